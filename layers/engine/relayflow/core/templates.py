"""Template engine: sandboxed Jinja2 with native-typed lone expressions and limits.

A string that is exactly one ``{{ expression }}`` evaluates to the expression's
value (number, list, dict, ...); any other string containing ``{{`` or ``{%``
renders to text; every other string is returned as is.  Templates run in an
immutable sandbox with strict undefined names, a deadline, and size checks on
every operation that can grow a value far beyond its inputs.
"""
from __future__ import annotations

import json
import functools
import re
import time
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache, update_wrapper
from itertools import islice
from typing import Any, Callable

from jinja2 import StrictUndefined, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace
from markupsafe import Markup

from relayflow.core.errors import RelayflowError, TemplateError, TemplateLimitError


@dataclass(frozen=True)
class Limits:
    """Resource limits of one ``render``/``evaluate`` call."""

    max_output_bytes: int = 64 * 1024 * 1024
    max_seconds: float = 10.0
    max_range: int = 1_000_000


_DEFAULT_LIMITS = Limits()
# Integer arithmetic on huge ints is superlinear and Python refuses to print
# ints above 4300 digits anyway, so int results are capped independently.
_MAX_INT_BITS = 1 << 20
_RESULT = "_rf_value"
_FALSE_STRINGS = frozenset({"", "false", "0", "no", "none", "null", "off"})


# The sandbox hooks cannot see the render call, so its (limits, deadline)
# travels in a context variable, which is correct across threads and tasks.
_BUDGET: ContextVar[tuple[Limits, float] | None] = ContextVar("relayflow_template_budget", default=None)


def _limits() -> Limits:
    budget = _BUDGET.get()
    return _DEFAULT_LIMITS if budget is None else budget[0]


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget[1]:
        raise TemplateLimitError(f"template ran longer than {budget[0].max_seconds}s (max_seconds)")


def _check_size(size: int, what: str = "value") -> None:
    limit = _limits().max_output_bytes
    if size > limit:
        raise TemplateLimitError(f"{what} of {size} characters would exceed max_output_bytes ({limit})")


def _size(value: Any) -> int:
    """Rough printed size of ``value``; stops counting once past the output limit."""
    limit = _limits().max_output_bytes
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset, dict, _BoundedRange)):
            _tick()
            total += 2 + 2 * len(item)
            stack.extend(item)
            if isinstance(item, dict):
                stack.extend(item.values())
        else:
            total += 4
    return total


def _plain(value: Any, room: list[int]) -> Any:
    """Copy a result into plain JSON-like types, failing on undefined parts.

    Lazy mappings become dicts and other iterables (generators from ``map``,
    ranges, tuples) become lists; ``room`` bounds the printed size of the copy.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Undefined):
        raise TemplateError(value._undefined_message)
    if isinstance(value, str):
        _spend(room, len(value))
    elif isinstance(value, Mapping):
        _spend(room, 2 + 4 * len(value))
        return {key: _plain(item, room) for key, item in value.items()}
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        items = list(value)
        _spend(room, 2 + 2 * len(items))
        return [_plain(item, room) for item in items]
    return value


def _spend(room: list[int], size: int) -> None:
    _tick()
    room[0] -= size
    if room[0] < 0:
        raise TemplateLimitError(f"result exceeds max_output_bytes ({_limits().max_output_bytes})")


def _finalize(value: Any) -> Any:
    if isinstance(value, str):
        return value
    return _plain(value, [_limits().max_output_bytes])


class _BoundedRange(Sequence):
    """``range`` whose iteration checks the deadline."""

    __slots__ = ("_range",)

    def __init__(self, r: range):
        self._range = r

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        item = self._range[index]
        return _BoundedRange(item) if isinstance(item, range) else item

    def __contains__(self, item: object) -> bool:
        return item in self._range

    def __iter__(self) -> Iterator[int]:
        r = self._range
        for start in range(0, len(r), 4096):
            _tick()
            yield from r[start:start + 4096]

    def __repr__(self) -> str:
        return repr(self._range)


def _range(*args: int) -> _BoundedRange:
    r = range(*args)
    limit = _limits().max_range
    try:
        n = len(r)
    except OverflowError:
        n = limit + 1
    if n > limit:
        raise TemplateLimitError(f"range of {n} items exceeds max_range ({limit})")
    return _BoundedRange(r)


# Output size estimates for operations whose result can dwarf their inputs,
# checked before the operation allocates anything.
def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _est_pad(s: Any, width: Any = 80, *_: Any, **__: Any) -> int:
    return max(_size(s), _as_int(width))


def _est_replace(s: Any, old: Any, new: Any, count: Any = None) -> int:
    s, old, new = str(s), str(old), str(new)
    n = s.count(old) if old else len(s) + 1
    return len(s) + (min(n, count) if isinstance(count, int) and count >= 0 else n) * len(new)


def _est_indent(s: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    return _size(s) + (str(s).count("\n") + 1) * (len(width) if isinstance(width, str) else _as_int(width))


def _est_wordwrap(s: Any, width: Any = 79, _: Any = True, wrapstring: Any = None, *__: Any) -> int:
    return _size(s) * (1 + len(str(wrapstring or "\n")) // max(_as_int(width), 1)) + 1


def _join_items(items: Iterable[Any], sep: Any) -> Sequence[Any]:
    items = items if isinstance(items, Sequence) else list(items)
    _check_size(len(str(sep)) * len(items) + _size(items), "joined string")
    return items


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _est_fields(fmt: str, marker: str, values: Iterable[Any]) -> int:
    # Fields like {0} or %(name)s may repeat an argument, so each field is
    # counted at the size of the largest argument.
    return len(fmt) + fmt.count(marker) * max(map(_size, values), default=0)


def _est_percent(fmt: str, args: Any) -> int:
    if isinstance(args, Mapping):
        args = tuple(args.values())
    values = args if isinstance(args, tuple) else (args,)
    total = _est_fields(fmt, "%", values)
    for width in (g for m in _PERCENT_SPEC.finditer(fmt) for g in m.groups() if g):
        total += sum(map(_as_int, values)) if width == "*" else int(width)
    return total


def _est_format(fmt: str, *args: Any, **kwargs: Any) -> int:
    values = (*args, *kwargs.values())
    total = _est_fields(fmt, "{", values)
    total += sum(int(d) for spec in _FORMAT_SPEC.findall(fmt) for d in re.findall(r"\d+", spec))
    if _NESTED_SPEC.search(fmt):  # widths like {:{w}} come from the arguments
        total += sum(map(_as_int, values))
    return total


_STR_METHOD_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _est_pad, "ljust": _est_pad, "rjust": _est_pad, "zfill": _est_pad,
    "expandtabs": lambda s, tabsize=8: len(s) + s.count("\t") * _as_int(tabsize),
    "replace": _est_replace, "format": _est_format,
    "format_map": lambda s, m: _est_format(s, *(m.values() if isinstance(m, Mapping) else ())),
}
# Builtin types whose public attributes are safe; other objects (e.g. lazy
# mappings holding store clients) only expose the read-only Mapping API.
_SAFE_TYPES = frozenset({str, int, float, bool, list, tuple, dict, set, frozenset, Markup, _BoundedRange})
_SAFE_CLASSES = (LoopContext, Cycler, Joiner, Namespace)
_MAPPING_METHODS = frozenset({"keys", "values", "items", "get"})
_DENIED_ATTRIBUTES = frozenset({"to_bytes", "translate", "maketrans"})


class _CodeGenerator(CodeGenerator):
    """Routes ``~`` results through the size check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr in _DENIED_ATTRIBUTES or not super().is_safe_attribute(obj, attr, value):
            return False
        if type(obj) in _SAFE_TYPES or isinstance(obj, _SAFE_CLASSES):
            return True
        return isinstance(obj, Mapping) and attr in _MAPPING_METHODS

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        # Keys win over methods on mappings, so ``vars.items`` is the variable;
        # a missing key is looked up only once (lazy mappings may hit a store).
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except LookupError:
                if not hasattr(type(obj), attribute):
                    return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and len(args) == 1:
                args = (_join_items(args[0], owner),)
            elif name in _STR_METHOD_ESTIMATES:
                _check_size(_STR_METHOD_ESTIMATES[name](owner, *args, **kwargs), f"result of str.{name}")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            seq, n = (right, left) if isinstance(right, (str, list, tuple)) else (left, right)
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                _check_size(len(seq) * n, "repeated value")
            elif isinstance(left, int) and isinstance(right, int):
                _check_int_bits(left.bit_length() + right.bit_length())
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and left not in (-1, 0, 1):
                _check_int_bits(left.bit_length() * right)
        elif operator == "%" and isinstance(left, str):
            _check_size(_est_percent(left, right), "formatted string")
        result = self.binop_table[operator](left, right)
        if operator == "+" and isinstance(result, (str, list, tuple)):
            _check_size(len(result), "concatenated value")
        return result

    @staticmethod
    def checked_concat(value: str) -> str:
        _check_size(len(value), "concatenated string")
        return value

    @staticmethod
    def guard_iter(iterable: Any) -> Any:
        _tick()
        if isinstance(iterable, _BoundedRange) or (isinstance(iterable, Sized) and len(iterable) <= 1024):
            return iterable
        return _chunked(iterable)


def _chunked(iterable: Iterable[Any]) -> Iterator[Any]:
    it = iter(iterable)
    while chunk := list(islice(it, 1024)):
        yield from chunk
        _tick()


def _check_int_bits(bits: int) -> None:
    if bits > _MAX_INT_BITS:
        raise TemplateLimitError(f"integer result of about {bits} bits is too large (max {_MAX_INT_BITS})")


def _guarded(name: str, fn: Callable[..., Any], estimate: Callable[..., int]) -> Callable[..., Any]:
    skip = 1 if hasattr(fn, "jinja_pass_arg") else 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_size(estimate(*args[skip:], **kwargs), f"result of filter {name}")
        return fn(*args, **kwargs)

    return update_wrapper(wrapper, fn)  # copies jinja_pass_arg too


def _guarded_join(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        return fn(eval_ctx, _join_items(value, d), d, attribute)

    return update_wrapper(wrapper, fn)


def _merge(*dicts: Mapping[Any, Any]) -> dict[Any, Any]:
    merged: dict[Any, Any] = {}
    for d in dicts:
        if not isinstance(d, Mapping):
            raise TypeError(f"merge() takes mappings, got {type(d).__name__}")
        merged.update(d)
    return merged


def _join(items: Iterable[Any], sep: str = "") -> str:
    return str(sep).join(str(item) for item in _join_items(items, sep))


def _to_json(value: Any) -> str:
    plain = _plain(value, [_limits().max_output_bytes])
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)


_HELPERS: dict[str, Callable[..., Any]] = {
    "length": len,
    "keys": lambda d: list(d.keys()),
    "values": lambda d: list(d.values()),
    "merge": _merge,
    "range": _range,
    "split": lambda s, sep=None: str(s).split(sep),
    "join": _join,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "contains": lambda container, item: item in container,
    "to_json": _to_json,
    "from_json": json.loads,
}

_ENV = _Environment(undefined=StrictUndefined, finalize=_finalize, autoescape=False,
                    keep_trailing_newline=True)
del _ENV.globals["lipsum"]  # lipsum(n) loops n times with no budget check
_ENV.globals.update(_HELPERS)
_FILTER_ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _est_pad, "indent": _est_indent, "wordwrap": _est_wordwrap, "replace": _est_replace,
    "format": lambda value, *args, **kwargs: _est_percent(str(value), kwargs or args),
    "string": lambda value: _size(value), "pprint": lambda value: _size(value),
    "tojson": lambda value, indent=None: _size(value) * (1 + _as_int(indent)),
    "batch": lambda value, linecount, fill_with=None: _as_int(linecount),
    "slice": lambda value, slices, fill_with=None: _as_int(slices),
}
for _name, _estimate in _FILTER_ESTIMATES.items():
    _ENV.filters[_name] = _guarded(_name, _ENV.filters[_name], _estimate)
_ENV.filters["join"] = _guarded_join(_ENV.filters["join"])
_ENV.filters.update({k: v for k, v in _HELPERS.items() if k not in ("join", "lower", "upper", "length")})


def _snippet(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _syntax_message(exc: TemplateSyntaxError, text: str) -> str:
    lines = text.splitlines()
    lineno = exc.lineno or 1
    where = f" in {_snippet(lines[lineno - 1].strip())}" if 0 < lineno <= len(lines) else ""
    return f"template syntax error on line {lineno}: {exc.message}{where}"


def _as_template_error(exc: Exception, text: str) -> TemplateError:
    if isinstance(exc, TemplateError):
        if exc.template is None:  # raised inside a hook, which does not know the text
            return type(exc)(f"{exc} in {_snippet(text)}", template=text)
        return exc
    if isinstance(exc, (RecursionError, MemoryError)):
        message = f"template exhausted {type(exc).__name__}: {exc} in {_snippet(text)}"
        return TemplateLimitError(message, template=text)
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(_syntax_message(exc, text), template=text)
    if isinstance(exc, UndefinedError):
        message = str(exc)
    elif isinstance(exc, SecurityError):
        message = f"unsafe operation: {exc}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return TemplateError(f"{message} in {_snippet(text)}", template=text)


def _assign_template(expr: nodes.Expr) -> nodes.Template:
    body = [nodes.Assign(nodes.Name(_RESULT, "store"), expr, lineno=expr.lineno)]
    return nodes.Template(body, lineno=1).set_environment(_ENV)


def _parse_expression(expr: str) -> nodes.Expr:
    if not expr.strip():
        raise TemplateSyntaxError("empty expression", 1)
    parser = Parser(_ENV, expr, state="variable")
    node = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError(f"unexpected {parser.stream.current.value!r} after expression",
                                  parser.stream.current.lineno)
    return node


def _lone_expression(ast: nodes.Template) -> nodes.Expr | None:
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    parts = [n for n in ast.body[0].nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return parts[0]
    return None


@lru_cache(maxsize=4096)
def _compile(text: str) -> tuple[Template, bool]:
    ast = _ENV.parse(text)
    # Loops over plain lists run no hook, so each loop's iterable is wrapped.
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.EnvironmentAttribute("guard_iter"), [loop.iter], [], None, None,
                               lineno=loop.lineno)
    ast.set_environment(_ENV)
    lone = _lone_expression(ast)
    if lone is not None:
        return _ENV.from_string(_assign_template(lone)), True
    return _ENV.from_string(ast), False


@lru_cache(maxsize=1024)
def _compile_expression(expr: str) -> tuple[Template, bool]:
    return _ENV.from_string(_assign_template(_parse_expression(expr))), True


def _run(template: Template, native: bool, context: Mapping[str, Any]) -> Any:
    ctx = template.new_context(ChainMap(context, _ENV.globals), shared=True)  # type: ignore[arg-type]
    limit = _limits().max_output_bytes
    if native:
        for _ in template.root_render_func(ctx):
            pass
        return _plain(ctx.vars[_RESULT], [limit])
    parts, size = [], 0
    for chunk in template.root_render_func(ctx):
        size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise TemplateLimitError(f"output exceeds max_output_bytes ({limit})")
        parts.append(chunk)
    return "".join(parts)


def _run_guarded(text: str, compile_: Callable[[str], tuple[Template, bool]],
                 context: Mapping[str, Any]) -> Any:
    try:
        return _run(*compile_(text), context)
    except TemplateError as exc:
        raise _as_template_error(exc, text) from None
    except RelayflowError:
        raise  # e.g. a lazy mapping's store failure is not the template's fault
    except Exception as exc:
        raise _as_template_error(exc, text) from exc


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return _run_guarded(value, _compile, context)
    if isinstance(value, Mapping):
        return {key: _render_value(item, context) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render_value(item, context) for item in value]
    return value


def _start(limits: Limits | None) -> Token[tuple[Limits, float] | None]:
    limits = limits or _DEFAULT_LIMITS
    return _BUDGET.set((limits, time.monotonic() + limits.max_seconds))


def render(value: Any, context: Mapping[str, Any], limits: Limits | None = None) -> Any:
    """Render every string inside ``value`` (dict values, list items; not keys) against ``context``."""
    token = _start(limits)
    try:
        return _render_value(value, context)
    finally:
        _BUDGET.reset(token)


def evaluate(expr: Any, context: Mapping[str, Any], limits: Limits | None = None) -> Any:
    """Evaluate a condition: a literal, a ``{{ }}`` template, or a bare Jinja expression."""
    if expr is None or isinstance(expr, (bool, int, float)):
        return expr
    if not isinstance(expr, str) or "{{" in expr:
        return render(expr, context, limits)
    token = _start(limits)
    try:
        return _run_guarded(expr, _compile_expression, context)
    finally:
        _BUDGET.reset(token)


def truthy(value: Any) -> bool:
    """Truth of a condition value; strings like "false", "no", "0" are False."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_STRINGS
    return bool(value)


def check(text: str) -> str | None:
    """Return a message if ``text`` does not compile as a template, else None."""
    if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
        return None
    return _check(text, False)


def check_expression(expr: str) -> str | None:
    """Return a message if ``expr`` does not compile as a bare expression, else None."""
    return _check(expr, True)


# Checking generates the template's Python source (Jinja's compile-time checks, such as an
# unknown filter or test, run there) but neither compiles nor keeps it: a workflow of
# 10,000 distinct templates would otherwise compile each twice, once here and once again
# when the compile cache has moved on. Without the optimizer, generating leaves the cached
# parse (shared with the analyses below) unchanged.
_CHECK_ENV = _ENV.overlay(optimized=False)


def _check(text: str, expression: bool) -> str | None:
    try:
        _CHECK_ENV.compile(_ast(text, expression), raw=True)
    except TemplateError as exc:  # _ast's syntax message
        return str(exc)
    except TemplateSyntaxError as exc:
        return _syntax_message(exc, text)
    except Exception as exc:  # e.g. RecursionError on absurd nesting
        return f"template does not compile: {type(exc).__name__}: {exc}"
    return None


@functools.lru_cache(maxsize=256)
def _ast(text: str, expression: bool) -> nodes.Template:
    # Cached: validation runs several read-only analyses on each template back to back
    # (names read, task references, scope keys), and each used to parse it again.
    try:
        if expression:
            return nodes.Template([nodes.Output([_parse_expression(text)])], lineno=1).set_environment(_ENV)
        return _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc, text), template=text) from None


_IMPLICIT_NAMES = frozenset({"loop", "self", "varargs", "kwargs", "caller"})


@functools.lru_cache(maxsize=4096)
def _names(text: str, expression: bool) -> frozenset[str]:
    # A plain walk of Name nodes: Jinja's find_undeclared_variables runs the compiler's
    # frame analysis, which made validating a 10,000-task file take seconds.
    ast = _ast(text, expression)
    loaded, stored = set(), set()
    for node in ast.find_all(nodes.Name):
        (stored if node.ctx in ("store", "param") else loaded).add(node.name)
    return frozenset(loaded - stored - _IMPLICIT_NAMES - set(_ENV.globals))


def referenced_names(text: str, expression: bool = False) -> set[str]:
    """Top-level names the template reads, leaving out the helper globals and names it assigns."""
    if not expression and "{{" not in text and "{%" not in text:
        return set()
    return set(_names(text, expression))


def task_references(text: str, expression: bool = False) -> set[str]:
    """Names X used as ``task.X``, ``tasks.X``, ``task['X']`` or ``tasks["X"]``."""
    if not expression and "{{" not in text and "{%" not in text:
        return set()
    return set(_task_references(text, expression))


@functools.lru_cache(maxsize=4096)
def _task_references(text: str, expression: bool) -> frozenset[str]:
    found: set[str] = set()
    for node in _ast(text, expression).find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name in ("task", "tasks")):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return frozenset(found)

"""The sandboxed Jinja environment: which attributes a template may reach, the
helper functions and filters it sees, each guarded by a size estimate."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sized
from functools import update_wrapper
from itertools import islice
from typing import Any, Callable

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace
from markupsafe import Markup

from ..errors import TemplateLimitError
from .limits import (
    _MAX_INT_BITS,
    _STR_METHOD_ESTIMATES,
    _as_int,
    _BoundedRange,
    _check_size,
    _est_indent,
    _est_pad,
    _est_percent,
    _est_replace,
    _est_wordwrap,
    _finalize,
    _join_items,
    _limits,
    _plain,
    _range,
    _size,
    _tick,
)

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

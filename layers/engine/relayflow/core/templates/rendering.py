"""Compiling, rendering and evaluating templates, and checking that they compile.

A string that is exactly one ``{{ expression }}`` evaluates to the expression's
value (number, list, dict, ...); any other string containing ``{{`` or ``{%``
renders to text; every other string is returned as is."""
from __future__ import annotations

import functools
import time
from collections import ChainMap
from collections.abc import Mapping
from contextvars import Token
from functools import lru_cache
from typing import Any, Callable

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser

from ..errors import RelayflowError, TemplateError, TemplateLimitError
from .limits import (
    _BUDGET,
    _DEFAULT_LIMITS,
    _FALSE_STRINGS,
    _RESULT,
    Limits,
    _limits,
    _plain,
)
from .sandbox import _ENV


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
    template = nodes.Template(body, lineno=1)
    template.set_environment(_ENV)
    return template


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


@functools.lru_cache(maxsize=4096)  # a template repeated across tasks is checked once
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
            template = nodes.Template([nodes.Output([_parse_expression(text)])], lineno=1)
            template.set_environment(_ENV)
            return template
        return _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc, text), template=text) from None

"""The budget of one render: output size, run time and range limits, and the size
estimates the sandbox checks before an operation that can grow a value."""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable

from jinja2.runtime import Undefined

from ..errors import TemplateError, TemplateLimitError


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


class _BoundedRange(Sequence[int]):
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

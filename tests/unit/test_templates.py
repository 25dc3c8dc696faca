"""Tests of the sandboxed template engine (relayflow.core.templates)."""
from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import pytest

from relayflow.core import templates as templates_module
from relayflow.core.errors import TemplateError, TemplateLimitError
from relayflow.core.templates import (
    Limits,
    check,
    check_expression,
    evaluate,
    referenced_names,
    render,
    task_references,
    truthy,
)
from relayflow.core.templates import analysis as analysis_module
from relayflow.core.templates import limits as limits_module
from relayflow.core.templates import rendering as rendering_module
from relayflow.core.templates import sandbox as sandbox_module


class LazyMapping(Mapping):
    """A Mapping that loads values on demand, like the engine's task/vars scopes."""

    def __init__(self, data: dict[str, Any]):
        self._data = data
        self.client = "store-client-secret"  # must never be reachable from a template
        self.loads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.loads.append(key)
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def delete_everything(self) -> str:
        return "deleted"


# --- native types and text ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [42, 2.5, "text", True, False, None, [1, "a", None], {"a": {"b": [1, 2]}}],
    ids=["int", "float", "str", "true", "false", "none", "list", "dict"],
)
def test_given_lone_expression_when_rendered_then_value_keeps_its_json_type(value: Any) -> None:
    result = render("{{ v }}", {"v": value})
    assert result == value
    assert type(result) is type(value)


def test_given_lone_expression_with_surrounding_whitespace_when_rendered_then_type_is_kept() -> None:
    assert render("  {{ n + 1 }}\n", {"n": 1}) == 2


def test_given_lone_expression_returning_a_tuple_when_rendered_then_result_is_a_list() -> None:
    assert render("{{ (1, 2) }}", {}) == [1, 2]


def test_given_lone_expression_using_map_filter_when_rendered_then_generator_becomes_list() -> None:
    assert render("{{ xs|map('upper') }}", {"xs": ["a", "b"]}) == ["A", "B"]


def test_given_two_expressions_when_rendered_then_result_is_text() -> None:
    assert render("{{ a }}{{ b }}", {"a": 1, "b": 2}) == "12"


def test_given_text_around_expression_when_rendered_then_result_is_text() -> None:
    assert render("image: {{ tag }}!", {"tag": 7}) == "image: 7!"


def test_given_statement_template_when_rendered_then_result_is_text() -> None:
    assert render("{% for i in range(3) %}{{ i }},{% endfor %}", {}) == "0,1,2,"


def test_given_trailing_newline_in_text_template_when_rendered_then_newline_is_kept() -> None:
    assert render("a {{ x }}\n", {"x": 1}) == "a 1\n"


def test_given_string_without_template_markers_when_rendered_then_it_is_returned_unchanged() -> None:
    text = "plain {text} with } braces and a % sign"
    assert render(text, {}) is text


def test_given_raw_block_when_rendered_then_braces_are_kept_as_text() -> None:
    assert render("{% raw %}{{ x }}{% endraw %}", {}) == "{{ x }}"


def test_given_nested_input_when_rendered_then_every_string_value_is_rendered() -> None:
    value = {"a": "{{ n }}", "b": ["x{{ n }}", {"c": "{{ [n] }}"}], "d": 3, "e": None}
    assert render(value, {"n": 5}) == {"a": 5, "b": ["x5", {"c": [5]}], "d": 3, "e": None}


def test_given_template_in_dict_key_when_rendered_then_key_is_not_rendered() -> None:
    assert render({"{{ n }}": "{{ n }}"}, {"n": 1}) == {"{{ n }}": 1}


def test_given_nested_input_when_rendered_then_input_is_not_mutated() -> None:
    value = {"a": ["{{ n }}"], "b": {"c": "{{ n }}"}}
    before = copy.deepcopy(value)
    result = render(value, {"n": 1})
    assert value == before
    assert result["a"] is not value["a"]


def test_given_lone_expression_of_context_list_when_rendered_then_a_copy_is_returned() -> None:
    items = [1, 2]
    result = render("{{ items }}", {"items": items})
    result.append(3)
    assert items == [1, 2]


# --- undefined names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("{{ missing }}", "missing"),
        ("x {{ missing }}", "missing"),
        ("{{ vars.nope }}", "nope"),
        ("prefix-{{ vars.nope }}", "nope"),
        ("{{ [1, vars.nope] }}", "nope"),
        ("{{ {'k': missing} }}", "missing"),
        ("{% if missing %}x{% endif %}", "missing"),
        ("{{ missing.attr }}", "missing"),
    ],
)
def test_given_undefined_name_when_rendered_then_template_error_names_it(template: str, name: str) -> None:
    with pytest.raises(TemplateError, match=name) as info:
        render(template, {"vars": {"x": 1}})
    assert info.value.template == template


def test_given_default_filter_when_name_is_undefined_then_default_is_used() -> None:
    assert render("{{ missing | default('d') }}", {}) == "d"


def test_given_is_defined_test_when_name_is_undefined_then_it_is_false() -> None:
    assert render("{{ missing is defined }}", {}) is False


# --- check ------------------------------------------------------------------------------------


def test_given_valid_template_when_checked_then_no_message() -> None:
    assert check("{{ vars.x | default(1) }} and {% if y %}y{% endif %}") is None


def test_given_unclosed_expression_when_checked_then_message_has_jinja_reason_and_line() -> None:
    message = check("{{ x }")
    assert message is not None
    assert "unexpected '}'" in message
    assert "line 1" in message


def test_given_error_on_second_line_when_checked_then_message_names_line_2() -> None:
    message = check("first line\n{% for x in %}{% endfor %}")
    assert message is not None
    assert "line 2" in message


def test_given_unknown_filter_when_checked_then_message_names_the_filter() -> None:
    message = check("{{ x | nosuchfilter }}")
    assert message is not None
    assert "nosuchfilter" in message


def test_given_unclosed_block_when_checked_then_message_is_returned() -> None:
    assert check("{% if x %}never closed") is not None


def test_given_invalid_template_when_rendered_then_template_error_is_raised() -> None:
    with pytest.raises(TemplateError, match="syntax error"):
        render("{{ x }", {"x": 1})


def test_given_valid_bare_expression_when_checked_then_no_message() -> None:
    assert check_expression("succeeded() and vars.x > 1") is None


@pytest.mark.parametrize("expr", ["a b", "x >", "", "{{ x }}", "x }}"])
def test_given_invalid_bare_expression_when_checked_then_message_is_returned(expr: str) -> None:
    assert check_expression(expr) is not None


# --- sandbox ------------------------------------------------------------------------------------


# Every escape runs against a context holding planted secrets: an environment variable, a
# global of this module (reachable through the ``succeeded`` function's globals), a global of
# the template module (reachable through a helper's globals), a lazy mapping's attributes and
# a file in the working directory. An escape must be refused by the guard named beside it and
# no secret may appear in the output or the error.
PLANTED_SECRET = "not-planted"  # replaced per test by the ``secret`` fixture


class MutableLazyMapping(LazyMapping, MutableMapping):
    """A lazy mapping that could be written to, if a template were let at its methods."""

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    value = f"planted-{secrets.token_hex(8)}"
    monkeypatch.setenv("RELAYFLOW_PLANTED_SECRET", value)
    monkeypatch.setitem(globals(), "PLANTED_SECRET", value)
    # In every module of the template engine: a helper's __globals__ is the module that defines it.
    for module in (templates_module, limits_module, sandbox_module, rendering_module, analysis_module):
        monkeypatch.setattr(module, "_PLANTED_SECRET", value, raising=False)
    (tmp_path / "secret.txt").write_text(value)
    monkeypatch.chdir(tmp_path)
    return value


def _escape_context(secret: str) -> dict[str, Any]:
    lazy = LazyMapping({"a": 1})
    lazy.client = secret
    lazy._secret = secret  # type: ignore[attr-defined]
    store = MutableLazyMapping({"a": 1})
    return {"xs": [1, 2, 3], "lazy": lazy, "store": store, "succeeded": lambda: True}


def _attempt(template: str, context: dict[str, Any], secret: str) -> TemplateError:
    """Render ``template``; it must fail with a TemplateError that does not leak ``secret``."""
    try:
        result = render(template, context)
    except Exception as exc:  # noqa: BLE001 - every failure is inspected below
        texts, cause = [], exc
        while cause is not None:
            texts += [str(cause), repr(cause.args)]
            cause = cause.__cause__ or cause.__context__
        assert secret not in "\n".join(texts), f"the secret leaked into the error of {template!r}"
        assert isinstance(exc, TemplateError), f"{type(exc).__name__} is not a TemplateError: {exc}"
        assert exc.template == template
        return exc
    assert secret not in repr(result), f"the secret leaked into the output of {template!r}"
    raise AssertionError(f"{template!r} rendered {repr(result)[:200]}")


def _unsafe(attr: str, owner: str) -> str:
    """The refusal of the sandbox's attribute check (jinja2.sandbox's message)."""
    return re.escape(f"access to attribute '{attr}' of '{owner}' object is unsafe")


# Refused by the sandbox's attribute check (``_Environment.is_safe_attribute``).
ATTRIBUTE_ESCAPES = [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", _unsafe("__class__", "str")),
    ("{{ cycler.__init__.__globals__.os.environ }}", _unsafe("__init__", "type")),
    ("{{ joiner.__init__.__globals__.os.environ }}", _unsafe("__init__", "type")),
    ("{{ namespace.__init__.__globals__ }}", _unsafe("__init__", "type")),
    ("{{ self.__init__.__globals__ }}", _unsafe("__init__", "TemplateReference")),
    ("{{ self._TemplateReference__context }}", _unsafe("_TemplateReference__context", "TemplateReference")),
    ("{{ length.__self__.__import__('os').environ }}", _unsafe("__self__", "builtin_function_or_method")),
    ("{{ range.__globals__ }}", _unsafe("__globals__", "function")),
    ("{{ range.__globals__._PLANTED_SECRET }}", _unsafe("__globals__", "function")),
    ("{{ ''|attr('__class__') }}", _unsafe("__class__", "str")),
    ("{{ '{0.__class__.__base__}'.format('') }}", _unsafe("__class__", "str")),
    ("{{ (1).__class__.__base__ }}", _unsafe("__class__", "int")),
    ("{{ dict.mro() }}", _unsafe("mro", "type")),
    ("{{ dict.__subclasses__() }}", _unsafe("__subclasses__", "type")),
    ("{{ succeeded.__globals__ }}", _unsafe("__globals__", "function")),
    ("{{ succeeded.__globals__.PLANTED_SECRET }}", _unsafe("__globals__", "function")),
    ("{{ (xs|map('string')).gi_frame }}", _unsafe("gi_frame", "generator")),
    ("{% for x in xs %}{{ loop.__class__ }}{% endfor %}", _unsafe("__class__", "LoopContext")),
    ("{{ xs.append(4) }}", _unsafe("append", "list")),
    ("{{ store.update({'a': 2}) }}", _unsafe("update", "MutableLazyMapping")),
    ("{{ store.pop('a') }}", _unsafe("pop", "MutableLazyMapping")),
    ("{{ lazy.delete_everything() }}", _unsafe("delete_everything", "LazyMapping")),
    ("{{ lazy['client'] }}", _unsafe("client", "LazyMapping")),
    ("{{ lazy['_secret'] }}", _unsafe("_secret", "LazyMapping")),
    ("{{ '{0[client]}'.format(lazy) }}", _unsafe("client", "LazyMapping")),
    ("{{ lazy.get.__self__ }}", _unsafe("__self__", "method")),
    ("{{ (1).to_bytes(8, 'big') }}", _unsafe("to_bytes", "int")),
]


@pytest.mark.parametrize(("template", "refusal"), ATTRIBUTE_ESCAPES, ids=[t for t, _ in ATTRIBUTE_ESCAPES])
def test_given_sandbox_escape_attempt_when_rendered_then_attribute_check_refuses_it(
        template: str, refusal: str, secret: str) -> None:
    context = _escape_context(secret)
    error = _attempt(template, context, secret)
    assert re.search(refusal, str(error)), str(error)
    assert context["xs"] == [1, 2, 3]
    assert dict(context["store"]) == {"a": 1}


@pytest.mark.parametrize("expr", ["cycler.__init__.__globals__.os.environ", "succeeded.__globals__.PLANTED_SECRET"])
def test_given_sandbox_escape_in_bare_expression_when_evaluated_then_attribute_check_refuses_it(
        expr: str, secret: str) -> None:
    with pytest.raises(TemplateError, match=r"access to attribute '__\w+__' of '\w+' object is unsafe") as info:
        evaluate(expr, _escape_context(secret))
    assert secret not in str(info.value)


# A name lookup on a mapping reads its keys, and only falls back to what the mapping's
# class defines (``_Environment.getattr``): instance attributes are never reached.
MAPPING_ESCAPES = [
    ("{{ lazy.client }}", "client"),
    ("{{ lazy._secret }}", "_secret"),
    ("{{ lazy._data }}", "_data"),
    ("{{ '{0.client}'.format(lazy) }}", "client"),
]


@pytest.mark.parametrize(("template", "attr"), MAPPING_ESCAPES, ids=[t for t, _ in MAPPING_ESCAPES])
def test_given_mapping_instance_attribute_when_read_then_it_is_undefined(template: str, attr: str, secret: str) -> None:
    error = _attempt(template, _escape_context(secret), secret)
    assert f"LazyMapping object' has no attribute '{attr}'" in str(error), str(error)


# Names a stock Jinja or Flask environment exposes and ours does not.
@pytest.mark.parametrize(
    ("template", "name"),
    [("{{ lipsum.__globals__ }}", "lipsum"), ("{{ config.items() }}", "config"),
     ("{{ request.application.__globals__ }}", "request")],
)
def test_given_global_the_sandbox_does_not_expose_when_used_then_it_is_undefined(
        template: str, name: str, secret: str) -> None:
    error = _attempt(template, _escape_context(secret), secret)
    assert str(error).startswith(f"'{name}' is undefined"), str(error)


# The environment has no loader, so no template can read a file.
@pytest.mark.parametrize(
    "template",
    ["{% include 'secret.txt' %}", "{% import 'secret.txt' as s %}{{ s }}", "{% extends 'secret.txt' %}",
     "{% include '/etc/passwd' %}", "{% from 'secret.txt' import x %}{{ x }}"],
)
def test_given_file_inclusion_when_rendered_then_it_is_refused_for_lack_of_a_loader(template: str, secret: str) -> None:
    error = _attempt(template, _escape_context(secret), secret)
    assert "no loader for this environment specified" in str(error), str(error)


def test_given_lipsum_global_when_used_then_it_is_undefined() -> None:
    with pytest.raises(TemplateError, match="lipsum"):
        render("{{ lipsum(1) }}", {})


def test_given_dict_in_context_when_template_calls_a_mutating_method_then_dict_is_unchanged() -> None:
    data = {"a": 1}
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ data.clear() }}", {"data": data})
    assert data == {"a": 1}


def test_given_cycler_and_namespace_when_used_normally_then_they_still_work() -> None:
    template = (
        "{% set ns = namespace(total=0) %}{% set c = cycler('a', 'b') %}"
        "{% for i in range(3) %}{% set ns.total = ns.total + i %}{{ c.next() }}{% endfor %}{{ ns.total }}"
    )
    assert render(template, {}) == "aba3"


# --- limits -------------------------------------------------------------------------------------


def test_given_default_limits_then_they_match_the_documented_values() -> None:
    assert Limits() == Limits(max_output_bytes=64 * 1024 * 1024, max_seconds=10.0, max_range=1_000_000)


def test_given_small_output_limit_when_loop_writes_more_then_limit_error() -> None:
    with pytest.raises(TemplateLimitError, match="max_output_bytes"):
        render("{% for i in range(100) %}0123456789{% endfor %}", {}, Limits(max_output_bytes=500))


def test_given_output_just_under_limit_when_rendered_then_it_succeeds() -> None:
    result = render("{% for i in range(49) %}0123456789{% endfor %}", {}, Limits(max_output_bytes=500))
    assert len(result) == 490


def test_given_multibyte_output_when_counted_then_bytes_not_characters_are_limited() -> None:
    with pytest.raises(TemplateLimitError):
        render("x{{ s }}", {"s": "é" * 300}, Limits(max_output_bytes=500))


def test_given_large_native_value_when_over_limit_then_limit_error() -> None:
    with pytest.raises(TemplateLimitError):
        render("{{ [s, s, s] }}", {"s": "a" * 400}, Limits(max_output_bytes=1000))


@pytest.mark.parametrize("template", ["{{ 'a' * 10**10 }}", "{{ [0] * 10**10 }}", "{{ 2 ** 100000000 }}"])
def test_given_huge_repetition_or_power_when_rendered_then_limit_error_without_allocating(template: str) -> None:
    with pytest.raises(TemplateLimitError, match="too large|max_output_bytes"):
        render(template, {})


# Each result is measured with |length so only the operation's own check can fail it.
@pytest.mark.parametrize(
    "expression",
    [
        "'a' * 20000",
        "20000 * 'a'",
        "[0] * 20000",
        "'a'.center(20000)",
        "'a'.rjust(20000)",
        "'a'.zfill(20000)",
        "'a\\tb'.expandtabs(20000)",
        "'a' | center(20000)",
        "('x\\n' * 10) | indent(2000)",
        "('a' * 100) | replace('a', 'b' * 200)",
        "('a' * 100).replace('a', 'b' * 200)",
        "'%20000d' % 1",
        "'%*d' % (20000, 1)",
        "'%s%s' % ('a' * 6000, 'b' * 6000)",
        "('%(a)s' * 100) % {'a': 'b' * 200}",
        "('{0}' * 100).format('b' * 200)",
        "('{x}' * 100).format_map({'x': 'b' * 200})",
        "'{:>20000}'.format(1)",
        "'{:>{w}}'.format(1, w=20000)",
        "('a' * 100).join(['x'] * 200)",
        "(['x'] * 200) | join('a' * 100)",
        "join(['x'] * 200, 'a' * 100)",
        "[1] | batch(20000, 0) | list",
        "('a' * 6000) + ('b' * 6000)",
        "([1] * 6000) + ([2] * 6000)",
        "('a' * 6000) ~ ('b' * 6000)",
        "(xs | string)",
        "(xs | tojson)",
        "to_json(xs)",
    ],
)
def test_given_operation_exceeding_output_limit_when_rendered_then_limit_error(expression: str) -> None:
    xs = ["a" * 100] * 200
    with pytest.raises(TemplateLimitError):
        render("{{ (" + expression + ") | length }}", {"xs": xs}, Limits(max_output_bytes=10_000))


def test_given_int_product_over_int_cap_when_rendered_then_limit_error() -> None:
    with pytest.raises(TemplateLimitError, match="too large"):
        render("{{ (2 ** 400000) * (2 ** 400000) * (2 ** 400000) % 7 }}", {})


@pytest.mark.parametrize("operator", ["~", "+"])
def test_given_doubling_string_in_loop_when_rendered_then_limit_error(operator: str) -> None:
    template = (
        "{% set ns = namespace(s='ab') %}"
        f"{{% for i in range(16) %}}{{% set ns.s = ns.s {operator} ns.s %}}{{% endfor %}}{{{{ ns.s|length }}}}"
    )
    with pytest.raises(TemplateLimitError):
        render(template, {}, Limits(max_output_bytes=10_000))


def test_given_nested_lists_built_in_loop_when_printed_then_limit_error() -> None:
    template = (
        "{% set ns = namespace(l=[1]) %}"
        "{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l | string | length }}"
    )
    with pytest.raises(TemplateLimitError):
        render(template, {}, Limits(max_output_bytes=10_000))


def test_given_deeply_shared_structure_when_returned_natively_then_deadline_stops_the_copy() -> None:
    dag: list[Any] = [1]
    for _ in range(20):  # 2M nodes once unshared: about a second to copy
        dag = [dag, dag]
    with pytest.raises(TemplateLimitError, match="max_seconds"):
        render("{{ dag }}", {"dag": dag}, Limits(max_output_bytes=10**15, max_seconds=0.05))


def test_given_range_over_max_range_when_rendered_then_limit_error() -> None:
    with pytest.raises(TemplateLimitError, match="max_range"):
        render("{{ range(11) | list }}", {}, Limits(max_range=10))


def test_given_range_at_max_range_when_rendered_then_it_succeeds() -> None:
    assert render("{{ range(10) | list }}", {}, Limits(max_range=10)) == list(range(10))


def test_given_huge_nested_range_loops_when_rendered_then_deadline_stops_them() -> None:
    template = "{% for a in range(10**6) %}{% for b in range(10**6) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateLimitError, match="max_seconds"):
        render(template, {}, Limits(max_seconds=0.2))
    assert time.monotonic() - started < 2


def test_given_nested_loops_over_context_lists_when_rendered_then_deadline_stops_them() -> None:
    # 25M iterations take well over max_seconds; no hook runs inside the empty loops.
    with pytest.raises(TemplateLimitError, match="max_seconds"):
        render("{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}",
               {"xs": list(range(5000))}, Limits(max_seconds=0.05))


def test_given_exponential_macro_recursion_when_rendered_then_deadline_stops_it() -> None:
    template = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    with pytest.raises(TemplateLimitError):
        render(template, {}, Limits(max_seconds=0.2))


def test_given_infinite_macro_recursion_when_rendered_then_template_error() -> None:
    with pytest.raises(TemplateError):
        render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})


def test_given_5mb_string_when_rendered_as_lone_expression_then_value_is_returned() -> None:
    big = "a" * 5_000_000
    assert render("{{ vars.big }}", {"vars": {"big": big}}) == big


def test_given_5mb_string_when_rendered_in_text_then_text_is_returned() -> None:
    big = "a" * 5_000_000
    result = render("x{{ vars.big }}", {"vars": {"big": big}})
    assert len(result) == 5_000_001
    assert result.startswith("xa")


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ length('héllo') }}", 5),
        ("{{ 'héllo' | length }}", 5),
        ("{{ length([1, 2, 3]) }}", 3),
        ("{{ length(d) }}", 2),
        ("{{ keys(d) }}", ["a", "b"]),
        ("{{ d | keys }}", ["a", "b"]),
        ("{{ values(d) }}", [1, 2]),
        ("{{ d | values }}", [1, 2]),
        ("{{ merge(d, {'b': 3}, {'c': 4}) }}", {"a": 1, "b": 3, "c": 4}),
        ("{{ d | merge({'a': 0}) }}", {"a": 0, "b": 2}),
        ("{{ range(2, 5) }}", [2, 3, 4]),
        ("{{ 3 | range }}", [0, 1, 2]),
        ("{{ range(3) | length }}", 3),
        ("{{ split('a b  c') }}", ["a", "b", "c"]),
        ("{{ 'a,b' | split(',') }}", ["a", "b"]),
        ("{{ join(['a', 1], '-') }}", "a-1"),
        ("{{ join(['a', 'b']) }}", "ab"),
        ("{{ ['a', 'b'] | join(',') }}", "a,b"),
        ("{{ [{'n': 'a'}, {'n': 'b'}] | join('+', attribute='n') }}", "a+b"),
        ("{{ lower('AbC') }}", "abc"),
        ("{{ 'AbC' | upper }}", "ABC"),
        ("{{ contains([1, 2], 2) }}", True),
        ("{{ 'abc' | contains('x') }}", False),
        ("{{ to_json({'b': [1, None], 'a': 'é'}) }}", '{"b":[1,null],"a":"é"}'),
        ("{{ {'z': true} | to_json }}", '{"z":true}'),
        ("{{ from_json('{\"a\": [1]}') }}", {"a": [1]}),
        ("{{ '[1, 2]' | from_json }}", [1, 2]),
    ],
)
def test_given_helper_when_called_as_function_or_filter_then_it_returns_expected(template: str, expected: Any) -> None:
    assert render(template, {"d": {"a": 1, "b": 2}}) == expected


def test_given_merge_when_called_then_inputs_are_not_modified() -> None:
    a = {"x": 1}
    assert render("{{ merge(a, {'y': 2}) }}", {"a": a}) == {"x": 1, "y": 2}
    assert a == {"x": 1}


def test_given_merge_with_non_mapping_when_called_then_template_error() -> None:
    with pytest.raises(TemplateError, match="merge"):
        render("{{ merge({'a': 1}, [1]) }}", {})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ missing | default(3) }}", 3),
        ("{{ [1, 2, 3] | select('odd') | list }}", [1, 3]),
        ("{{ ['1', '2'] | map('int') | sum }}", 3),
        ("{{ '42' | int }}", 42),
        ("{{ {'b': 1, 'a': 2} | tojson }}", '{"a": 2, "b": 1}'),
        ("{{ 'ab' | replace('a', 'x') }}", "xb"),
        ("{{ '%s-%03d' % ('v', 7) }}", "v-007"),
        ("{{ '{}:{:>3}'.format('a', 1) }}", "a:  1"),
        ("{{ 'x' | center(5) }}", "  x  "),
        ("{{ [3, 1, 2] | sort | first }}", 1),
    ],
)
def test_given_builtin_jinja_filter_when_used_then_it_still_works(template: str, expected: Any) -> None:
    assert render(template, {}) == expected


# --- evaluate and truthy ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, None, 0, 3, 1.5])
def test_given_literal_condition_when_evaluated_then_it_is_returned_as_is(value: Any) -> None:
    assert evaluate(value, {}) is value


def test_given_bare_expression_when_evaluated_then_its_value_is_returned() -> None:
    context = {"succeeded": lambda: True, "vars": {"x": 2}}
    assert evaluate("succeeded() and vars.x > 1", context) is True


def test_given_bare_expression_with_false_result_when_evaluated_then_false() -> None:
    assert evaluate("vars.x > 5", {"vars": {"x": 2}}) is False


def test_given_template_condition_when_evaluated_then_it_is_rendered() -> None:
    assert evaluate("{{ vars.x }}", {"vars": {"x": "no"}}) == "no"


def test_given_bare_expression_with_undefined_name_when_evaluated_then_template_error() -> None:
    with pytest.raises(TemplateError, match="nope"):
        evaluate("nope == 1", {})


@pytest.mark.parametrize("expr", ["", "   ", "a b"])
def test_given_invalid_bare_expression_when_evaluated_then_template_error(expr: str) -> None:
    with pytest.raises(TemplateError):
        evaluate(expr, {})


def test_given_bare_expression_when_evaluated_then_limits_apply() -> None:
    with pytest.raises(TemplateLimitError):
        evaluate("range(100) | list", {}, Limits(max_range=10))


@pytest.mark.parametrize("value", ["", "false", "FALSE", " False ", "0", "no", "None", "null", "off", False, None, 0, [], {}])
def test_given_falsy_value_when_truthy_then_false(value: Any) -> None:
    assert truthy(value) is False


@pytest.mark.parametrize("value", ["true", "yes", "1", "anything", " x ", True, 1, [0], {"a": 1}])
def test_given_truthy_value_when_truthy_then_true(value: Any) -> None:
    assert truthy(value) is True


# --- static analysis --------------------------------------------------------------------------------


def test_given_template_when_referenced_names_then_top_level_names_are_returned() -> None:
    text = "{{ vars.x }} {% for t in tasks %}{{ t }}{% endfor %} {{ result().y | default(input.z) }}"
    assert referenced_names(text) == {"vars", "tasks", "result", "input"}


def test_given_template_using_helpers_when_referenced_names_then_helpers_are_not_reported() -> None:
    assert referenced_names("{{ merge(vars.a, {}) }}{% for i in range(3) %}{% endfor %}") == {"vars"}


def test_given_bare_expression_when_referenced_names_then_names_are_returned() -> None:
    assert referenced_names("succeeded() and vars.x > 1", expression=True) == {"succeeded", "vars"}


def test_given_plain_text_when_referenced_names_then_empty() -> None:
    assert referenced_names("no template here") == set()


def test_given_invalid_template_when_referenced_names_then_template_error() -> None:
    with pytest.raises(TemplateError):
        referenced_names("{{ x }")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ task.build.result }}", {"build"}),
        ("{{ tasks.test }}", {"test"}),
        ("{{ task['deploy'].result }}", {"deploy"}),
        ('{{ tasks["with-dash"] }}', {"with-dash"}),
        ("{{ task.a }} {% if tasks.b.failed %}{{ task['c'] }}{% endif %}", {"a", "b", "c"}),
        ("{{ task[name] }} {{ vars.task }} {{ other.x }}", set()),
        ("plain text", set()),
    ],
)
def test_given_template_when_task_references_then_task_names_are_returned(text: str, expected: set[str]) -> None:
    assert task_references(text) == expected


def test_given_bare_expression_when_task_references_then_task_names_are_returned() -> None:
    assert task_references("task.build.succeeded and tasks['lint'].ok", expression=True) == {"build", "lint"}


# --- lazy mapping context ---------------------------------------------------------------------------


def test_given_lazy_mapping_when_attribute_is_read_then_value_is_loaded() -> None:
    lazy = LazyMapping({"image": "app:1"})
    assert render("{{ vars.image }}", {"vars": lazy}) == "app:1"
    assert lazy.loads == ["image"]


def test_given_lazy_task_mapping_when_nested_path_is_read_then_value_is_returned() -> None:
    task = LazyMapping({"build": {"result": {"image": "app:2"}}})
    assert render("{{ task.build.result.image }}", {"task": task}) == "app:2"


def test_given_lazy_mapping_when_subscripted_then_value_is_returned() -> None:
    assert render("{{ vars['image'] }}", {"vars": LazyMapping({"image": "a"})}) == "a"


def test_given_lazy_mapping_as_lone_expression_when_rendered_then_result_is_a_plain_dict() -> None:
    result = render("{{ vars }}", {"vars": LazyMapping({"a": 1})})
    assert result == {"a": 1}
    assert type(result) is dict


def test_given_key_named_like_a_mapping_method_when_read_then_key_wins() -> None:
    assert render("{{ vars.items }}", {"vars": LazyMapping({"items": [1, 2]})}) == [1, 2]


def test_given_lazy_mapping_when_mapping_methods_are_called_then_they_work() -> None:
    lazy = LazyMapping({"a": 1})
    assert render("{{ vars.get('a') }}-{{ vars.keys() | list }}", {"vars": lazy}) == "1-['a']"


def test_given_zero_arg_context_callables_when_called_then_their_results_are_used() -> None:
    context = {"result": lambda: {"image": "r:1"}, "succeeded": lambda: True}
    assert render("{{ result().image }}", context) == "r:1"
    assert render("{{ succeeded() }}", context) is True


def test_given_lazy_mapping_as_whole_context_when_rendered_then_names_resolve() -> None:
    context = LazyMapping({"vars": {"x": 1}})
    assert render("{{ vars.x }}-{{ range(2) | list }}", context) == "1-[0, 1]"


# --- caching ---------------------------------------------------------------------------------------


def test_given_cached_template_when_rendered_repeatedly_then_it_is_compiled_once() -> None:
    from relayflow.core.templates import rendering as templates_module

    context = {"vars": {"x": 1}}
    text = "{{ vars.x }} cached-once"
    render(text, context)
    before = templates_module._compile.cache_info()
    for _ in range(50):
        assert render(text, context) == "1 cached-once"
    after = templates_module._compile.cache_info()
    assert after.misses == before.misses
    assert after.hits >= before.hits + 50

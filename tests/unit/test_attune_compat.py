"""The seed project's (Attune's) workflow files: they load and run unchanged, or validation
says exactly what to change (../shared/reference/attune-notes.md §2, §4, §5, §6).

Fixture files live in tests/e2e/fixtures/attune/, with `relayflow test` files beside
them in tests/e2e/fixtures/attune/tests/.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from relayflow import testing
from relayflow.actions.builtin import default_registry
from relayflow.core import templates
from relayflow.core.errors import Problem
from relayflow.core.loader import load_text, parse, parse_file
from relayflow.core.spec import FAILED, SUCCEEDED, TIMED_OUT
from relayflow.harness import MemoryStack

FIXTURES = Path(__file__).resolve().parents[1] / "e2e" / "fixtures" / "attune"
SOURCE = "packs/demo/actions/workflows/deploy.workflow.yaml"


def text_of(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text: str, source: str = SOURCE) -> list[Problem]:
    return parse(text_of(text), source)[1]


def errors(text: str, source: str = SOURCE) -> list[str]:
    return [f"{p.line}: {p.task}: {p.field}: {p.message}" for p in problems(text, source) if p.severity == "error"]


def warnings(text: str, source: str = SOURCE) -> list[str]:
    return [f"{p.line}: {p.task}: {p.field}: {p.message}" for p in problems(text, source) if p.severity == "warning"]


def one_error(text: str) -> Problem:
    found = [p for p in problems(text) if p.severity == "error"]
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


# --- the workflow file: name, vars, documentation fields, output schema ---------------------------


def test_a_graph_only_file_takes_its_name_from_the_file() -> None:
    spec, found = parse(text_of("""
        version: "1.0.0"
        vars:
          greeting: null
        tasks:
          - name: hello
            action: core.echo
            input:
              message: "Hi {{ parameters.who }}"
        output_map:
          said: "{{ task.hello.result.message }}"
        """), SOURCE)
    assert found == [] and spec is not None
    assert spec.name == "deploy"
    assert spec.output == {"said": "{{ task.hello.result.message }}"}


def test_without_a_version_a_missing_name_is_still_an_error_that_proposes_one() -> None:
    (p,) = problems("tasks: [{name: a, action: core.noop}]\n", "flows/nightly build.yaml")
    assert (p.line, p.field) == (1, "name")
    assert p.message == "required field is missing (add 'name: nightly_build')"
    (p,) = problems("tasks: [{name: a, action: core.noop}]\n", "<string>")
    assert p.message == "required field is missing"


def test_ref_names_the_workflow_and_a_differing_ref_beside_name_is_a_warning() -> None:
    spec = load_text(text_of("""
        ref: core.install_packs
        label: Install Packs
        tags: [pack]
        enabled: true
        metadata: {description: "long text"}
        tasks: [{name: a, action: core.noop}]
        """), SOURCE)
    assert spec.name == "core.install_packs"
    assert warnings("""
        name: install_packs
        ref: core.install_packs
        tasks: [{name: a, action: core.noop}]
        """) == ["2: None: ref: ignored: the workflow is registered by its name 'install_packs'; "
                 "'workflow:' tasks must call it by that name"]
    assert errors("ref: 'not a name'\ntasks: [{name: a, action: core.noop}]\n") == [
        "1: None: ref: must be letters, digits, '.', '_' or '-' (it names the workflow)"]


def test_vars_as_a_list_of_single_key_maps_load() -> None:
    spec = load_text(text_of("""
        version: "1"
        vars:
          - temp_dir: null
          - downloaded: []
        tasks: [{name: a, action: core.noop}]
        """), SOURCE)
    assert spec.vars == {"temp_dir": None, "downloaded": []}


def test_an_output_schema_beside_output_map_is_documentation() -> None:
    spec = load_text(text_of("""
        name: demo
        output:
          registered: {type: array}
        output_map:
          registered: "{{ vars.done }}"
        vars: {done: []}
        tasks: [{name: a, action: core.noop}]
        """), SOURCE)
    assert spec.output == {"registered": "{{ vars.done }}"}


def test_cancellation_policy_is_a_warning_saying_what_cancel_does() -> None:
    (w,) = warnings("name: demo\ncancellation_policy: allow_finish\ntasks: [{name: a, action: core.noop}]\n")
    assert w.startswith("2: None: cancellation_policy: ignored: cancelling a relayflow execution starts nothing new")


def test_parameter_schemas_json_schema_keywords_and_secrets() -> None:
    text = """
        name: demo
        parameters:
          packs:
            type: array
            items: {type: string}
            minItems: 1
            required: true
          password:
            type: string
            secret: true
        tasks: [{name: a, action: core.noop}]
        """
    assert errors(text) == []
    assert warnings(text) == [
        "5: None: parameters.packs.items: not checked: relayflow checks an input's type, required, default and "
        "enum only (items, minItems are kept as documentation)",
        "10: None: parameters.password.secret: relayflow keeps inputs as plain JSON in the execution's records: "
        "pass the name of a secret (e.g. in AWS Secrets Manager) and read it inside the action instead",
    ]


def test_parameters_as_a_json_schema_object() -> None:
    spec = load_text(text_of("""
        name: demo
        parameters:
          type: object
          properties:
            url: {type: string}
            retries: {type: integer, default: 3}
          required: [url]
        tasks: [{name: a, action: core.noop}]
        """), SOURCE)
    assert [(p.name, p.type, p.required, p.default if p.has_default else None) for p in spec.inputs] == [
        ("url", "string", True, None), ("retries", "integer", False, 3)]


# --- tasks ---------------------------------------------------------------------------------------


def test_chart_metadata_is_ignored_and_attune_only_fields_say_what_to_do() -> None:
    assert errors("name: d\ntasks: [{name: a, action: core.noop, __chart_meta__: {x: 1}}]\n") == []
    cases = {
        "permission_set_refs: [x]": "relayflow has no per-task permission sets: every action runs with the worker "
                                    "function's IAM role (infra/README.md); remove 'permission_set_refs'",
        "worker_selector: {gpu: true}": "every action runs in the worker Lambda function; remove 'worker_selector'",
        "wait_for: {inquiry: 1}": "relayflow has no wait_for gate: ask in a task with 'action: core.ask' before "
                                  "this one and branch on its result (task.ASK.result), then remove 'wait_for'",
        "iterate_cache: {namespace: x}": "relayflow has no cache iteration",
        "delay: 5": "put a task with 'action: core.sleep' and 'input: {seconds: N}' before this one",
        "trace_tag_template: x": "remove 'trace_tag_template'",
    }
    for field_line, message in cases.items():
        p = one_error(f"name: d\ntasks:\n  - name: a\n    action: core.noop\n    {field_line}\n")
        assert (p.line, p.task, p.field) == (5, "a", field_line.split(":")[0])
        assert message in p.message


def test_a_workflow_task_naming_its_child_in_action_is_told_to_use_workflow() -> None:
    p = one_error("name: d\ntasks:\n  - name: run_child\n    type: workflow\n    action: demo.add_wf\n")
    assert (p.line, p.task, p.field) == (5, "run_child", "workflow")
    assert p.message == ("write 'workflow: demo.add_wf' instead of 'action: demo.add_wf' (a workflow task names "
                         "the child workflow in 'workflow')")


def test_a_bare_name_in_publish_publishes_the_whole_result() -> None:
    spec = load_text(text_of("""
        name: d
        tasks:
          - name: call
            action: core.noop
            next:
              - when: "{{ failed() }}"
                publish: [last_error]
                do: [report]
          - {name: report, action: core.noop}
        """), SOURCE)
    assert spec.tasks["call"].next[0].publish == (("last_error", "{{ result() }}"),)


def test_a_timeout_given_as_a_numeric_string_is_a_number() -> None:
    spec = load_text("name: d\ntasks: [{name: a, action: core.noop, timeout: '30'}]\n", SOURCE)
    assert spec.tasks["a"].timeout == 30


def test_conditional_on_success_lists_become_one_entry_each() -> None:
    spec = load_text(text_of("""
        name: d
        tasks:
          - name: download
            action: core.noop
            on_success:
              - when: "{{ result().count > 0 }}"
                do: check
              - when: "{{ result().count == 0 }}"
                do: [cleanup]
            on_failure: cleanup
          - {name: check, action: core.noop}
          - {name: cleanup, action: core.noop}
        """), SOURCE)
    entries = spec.tasks["download"].next
    assert [(t.origin, t.when, t.do, t.outcomes) for t in entries] == [
        ("on_success[0]", "{{ result().count > 0 }}", ("check",), frozenset({SUCCEEDED})),
        ("on_success[1]", "{{ result().count == 0 }}", ("cleanup",), frozenset({SUCCEEDED})),
        ("on_failure", None, ("cleanup",), frozenset({FAILED, TIMED_OUT})),
    ]


def test_a_choice_nested_in_a_choice_says_how_to_flatten_it() -> None:
    p = one_error("""
        name: d
        tasks:
          - name: build
            action: core.noop
            on_failure:
              - when: "{{ input.force }}"
                do:
                  - when: "{{ not input.skip_tests }}"
                    next: run_tests
          - {name: run_tests, action: core.noop}
        """)
    assert (p.task, p.field) == ("build", "on_failure[0].do")
    assert "give each combination its own entry with both conditions in its 'when'" in p.message


def test_failed_beside_timed_out_warns_that_failed_includes_timeouts() -> None:
    text = """
        name: d
        tasks:
          - name: train
            action: core.noop
            timeout: 10
            next:
              - {when: "{{ succeeded() }}", do: [ok]}
              - {when: "{{ failed() }}", do: [bad]}
              - {when: "{{ timed_out() }}", do: [slow]}
          - {name: ok, action: core.noop}
          - {name: bad, action: core.noop}
          - {name: slow, action: core.noop}
        """
    (w,) = warnings(text)
    assert w.startswith("8: train: next[1].when: failed() is true for timeouts too")
    assert '"{{ failed() and not timed_out() }}"' in w
    assert warnings(text.replace("failed() }}", "failed() and not timed_out() }}")) == []


# --- templates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr, field, message", [
    ("{{ task.parse.rows }}", "input.x",
     "'task.parse.rows': task.parse holds status, result, error, attempts, run, started_at and finished_at; "
     "for a key of its result, write 'task.parse.result.rows'"),
    ("{{ task.parse.attempt }}", "input.x", "did you mean 'task.parse.attempts'?"),
    ("{{ task.parse.data.rows[0] }}", "input.x", "write 'task.parse.result.data'"),
    ("{{ tasks['parse'].rows }}", "input.x", "write 'task.parse.result.rows'"),
    ("{{ system.workflow_start }}", "input.x",
     "'system.workflow_start': system holds execution_id, workflow and started_at "
     "(Attune's system.workflow_start is system.started_at)"),
    ("{{ task('parse').result }}", "input.x", "'task(...)' is not a function: write 'task.NAME.result'"),
    ("{{ counter }}", "input.x", "a bare name is not a variable here; write 'vars.counter'"),
    ("{{ published }}", "input.x", "a bare name is not a variable here; write 'vars.published'"),
    ("{{ url }}", "input.x", "a bare name is not an input here; write 'input.url'"),
    ("{{ config.token }}", "input.x", "relayflow has no pack configuration"),
    ("{{ keystore.token }}", "input.x", "relayflow has no key store"),
    ("{{ inquiry.parse.response }}", "input.x", "a 'core.ask' task's result is the response"),
    ("{{ cancelled() }}", "input.x", "a cancelled task fires no transitions"),
    ("{{ now() }}", "input.x", "use system.started_at"),
    ("{{ uuid() }}", "input.x", "use system.execution_id"),
    ("{{ vars.x == null }}", "input.x", "write 'none'"),
    ("{{ ctx('x') }}", "input.x", "write 'vars.NAME' for a published variable"),
])
def test_template_differences_say_what_to_write(expr: str, field: str, message: str) -> None:
    p = one_error(f"""
        name: d
        input: {{url: {{type: string}}}}
        vars: {{counter: 0}}
        tasks:
          - name: parse
            action: core.echo
            publish: [{{published: 1}}]
            on_success: use
          - name: use
            action: core.echo
            input: {{x: "{expr}"}}
        """)
    assert (p.line, p.task, p.field) == (11, "use", field)
    assert message in p.message, p.message


def test_addressing_that_exists_here_is_fine() -> None:
    assert errors("""
        name: d
        tasks:
          - name: parse
            action: core.echo
            on_success: use
          - name: use
            action: core.echo
            input:
              a: "{{ task.parse.result.rows }}"
              b: "{{ task.parse.status ~ task.parse.error ~ task.parse.attempts ~ task.parse.run }}"
              c: "{{ tasks['parse'].result['rows'] ~ task.parse.get('result') ~ system.execution_id }}"
              d: "{{ task.parse.started_at ~ task.parse.finished_at ~ system.workflow ~ system.started_at }}"
        """) == []


# Attune's functions, the rewrite the validator proposes, and the value both give.
FUNCTIONS = [
    ("abs(-3)", "-3 | abs", 3),
    ("floor(2.7)", '2.7 | round(0, "floor") | int', 2),
    ("ceil(2.1)", '2.1 | round(0, "ceil") | int', 3),
    ("round(2.5)", "2.6 | round | int", 3),
    ("min(4, 2)", "[4, 2] | min", 2),
    ("max(4, 2)", "[4, 2] | max", 4),
    ("sum([1, 2])", "[1, 2] | sum", 3),
    ("trim(' a ')", "' a ' | trim", "a"),
    ("replace('a-b', '-', '+')", "'a-b' | replace('-', '+')", "a+b"),
    ("starts_with('abc', 'a')", "'abc'.startswith('a')", True),
    ("ends_with('abc', 'c')", "'abc'.endswith('c')", True),
    ("reversed([1, 2])", "[1, 2] | reverse | list", [2, 1]),
    ("sort([2, 1])", "[2, 1] | sort", [1, 2]),
    ("unique([1, 1, 2])", "[1, 1, 2] | unique | list", [1, 2]),
    ("flat([[1], [2]])", "[[1], [2]] | sum(start=[])", [1, 2]),
    ("slice([1, 2, 3], 1, 2)", "[1, 2, 3][1:2]", [2]),
    ("index_of([1, 2], 2)", "[1, 2].index(2)", 1),
    ("count([1, 1, 2], 1)", "[1, 1, 2].count(1)", 2),
    ("chunks([1, 2, 3], 2)", "[1, 2, 3] | batch(2) | list", [[1, 2], [3]]),
    ("string(5)", "5 | string", "5"),
    ("int('7')", "'7' | int", 7),
    ("number('1.5')", "'1.5' | float", 1.5),
]


@pytest.mark.parametrize("attune, ours, value", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_attune_functions_get_a_rewrite_that_works(attune: str, ours: str, value: object) -> None:
    def workflow(expr: str) -> str:
        return yaml.safe_dump({"name": "d", "tasks": [{"name": "a", "action": "core.echo",
                                                       "input": {"x": "{{ " + expr + " }}"}}]})
    name = attune.split("(")[0]
    p = one_error(workflow(attune))
    assert p.message.startswith(f"unknown function '{name}' in template: write '")
    assert errors(workflow(ours)) == []
    assert templates.render("{{ " + ours + " }}", {}) == value


def test_attune_helpers_that_exist_here_run_unchanged() -> None:
    context = {"workflow": {"items": [1, 2], "defaults": {"a": 1}}, "parameters": {"o": {"a": 2, "b": 3}}}
    assert templates.render("{{ length(workflow.items) * 2 }}", context) == 4
    assert templates.render("{{ merge(workflow.defaults, parameters.o) }}", context) == {"a": 2, "b": 3}
    assert templates.render("{{ keys(parameters.o) }}", context) == ["a", "b"]
    assert templates.render("{{ 'x' in split('x,y', ',') }}", context) is True
    assert templates.render("{{ contains(workflow.items, 2) and upper('a') == 'A' }}", context) is True


# --- actions: what can be told before running ------------------------------------------------------


@pytest.mark.parametrize("task, field, severity, message", [
    ("{name: a, action: 'python:etl'}", "action", "error",
     "write a python action as python:<module>:<function> (e.g. python:etl:load_file), not 'python:etl'"),
    ("{name: a, action: 'python:etl:load-file'}", "action", "error", "python:<module>:<function>"),
    ("{name: a, action: core.ecoh}", "action", "error",
     "unknown built-in action 'core.ecoh' (did you mean 'core.echo'?); the core actions are"),
    ("{name: a, action: core.sleep, input: {secs: 3}}", "input", "error", "core.sleep needs input.seconds"),
    ("{name: a, action: core.sleep}", "input", "error", "core.sleep needs input.seconds"),
    ("{name: a, action: core.http, input: {method: GET}}", "input", "error", "core.http needs input.url"),
])
def test_action_checks(task: str, field: str, severity: str, message: str) -> None:
    (p,) = problems(f"name: d\ntasks:\n  - {task}\n")
    assert (p.task, p.field, p.severity) == ("a", field, severity)
    assert message in p.message


def test_templated_inputs_of_builtins_are_not_second_guessed() -> None:
    assert problems('name: d\ntasks: [{name: a, action: core.sleep, input: "{{ input.sleep }}"}]\n') == []


# --- the fixture files ------------------------------------------------------------------------------


def test_the_fixture_that_uses_attunes_result_addressing_says_what_to_change() -> None:
    spec, found = parse_file(str(FIXTURES / "linear.workflow.yaml"))
    assert spec is None
    assert [(p.line, p.task, p.field, p.message) for p in found] == [
        (20, "store", "input.rows", "'task.parse.rows': task.parse holds status, result, error, attempts, run, "
                                    "started_at and finished_at; for a key of its result, write "
                                    "'task.parse.result.rows'"),
        (22, None, "output_map.stored", "'task.store.count': task.store holds status, result, error, attempts, "
                                        "run, started_at and finished_at; for a key of its result, write "
                                        "'task.store.result.count'"),
    ]


def test_after_the_suggested_change_scenario_s1_runs_as_attune_specifies() -> None:
    text = (FIXTURES / "linear.workflow.yaml").read_text(encoding="utf-8")
    text = text.replace("task.parse.rows", "task.parse.result.rows").replace("task.store.count",
                                                                             "task.store.result.count")
    registry = default_registry()
    registry.register("demo.fetch", lambda payload, ctx: {"body": "a,b"})
    registry.register("demo.parse", lambda payload, ctx: {"rows": payload["text"].split(",")})
    registry.register("demo.store", lambda payload, ctx: {"count": len(payload["rows"])})
    stack = MemoryStack(registry=registry)
    spec = load_text(text, str(FIXTURES / "linear.workflow.yaml"))
    stack.register(spec)
    result = stack.run("linear", {"url": "u"})
    assert result["status"] == "succeeded"
    assert result["output"] == {"stored": 2}
    assert [t["name"] for t in result["tasks"]] == ["fetch", "parse", "store"]


def test_the_unsupported_fixture_lists_every_change_at_once() -> None:
    spec, found = parse_file(str(FIXTURES / "unsupported.workflow.yaml"))
    assert spec is None
    got = [(p.line, p.task, p.field, p.message.split(";")[0].split(":")[0]) for p in found]
    assert got == [
        (7, "ask", "permission_set_refs", "relayflow has no per-task permission sets"),
        (9, "ask", "input.prompt", "unknown name 'config' in template"),
        (10, "ask", "input.token", "unknown name 'keystore' in template"),
        (11, "ask", "input.at", "unknown name 'now' in template"),
        (15, "ask", "next[1].when", "unknown name 'cancelled' in template"),
        (19, "ship", "wait_for", "relayflow has no wait_for gate"),
        (20, "ship", "input.by", "unknown name 'inquiry' in template"),
        (20, "ship", "input.outcome", "unknown name 'outcome' in template"),
        (21, "expire", "input.started", "'system.workflow_start'"),
        (21, "expire", "input.n", "unknown function 'abs' in template"),
    ]


@pytest.mark.parametrize("name", ["recover.workflow.yaml", "fanin.workflow.yaml", "legacy.yaml"])
def test_the_runnable_fixtures_load_unchanged(name: str) -> None:
    spec, found = parse_file(str(FIXTURES / name))
    assert spec is not None, "\n".join(map(str, found))
    assert all(p.severity == "warning" for p in found)


def test_the_runnable_fixtures_pass_their_relayflow_tests() -> None:
    report = testing.run_files([str(FIXTURES / "tests")])
    assert report.bad_files == []
    assert [(r.name, r.mismatches, r.error) for r in report.results if not r.passed] == []
    assert len(report.results) == 7
    names = {cov.workflow: cov for cov in report.coverage.values()}
    assert set(names) == {"recover", "fanin", "ops.rollout"}
    assert names["fanin"].never_fired == [] and names["recover"].never_ran == []


# --- StackStorm Orquesta files ------------------------------------------------------------------------

ORQUESTA = """
version: 1.0
description: An Orquesta workflow, with YAQL and Jinja expressions
input:
  - who
  - hosts
vars:
  - greeting: null
tasks:
  greet:
    action: core.echo
    input:
      message: <% ctx(who) %>
    next:
      - when: "{{ succeeded() }}"
        publish:
          - greeting: "{{ ctx('who') }}"
        do: fan
  fan:
    action: core.local
    with:
      items: "{{ ctx('hosts') }}"
      concurrency: 2
    input:
      host: "{{ item() }}"
      prev: "{{ task('greet').result }}"
    retry:
      when: "{{ failed() }}"
      count: 3
      delay: 5
    next:
      - when: "{{ failed() }}"
        do: fail
      - when: "{{ completed() }}"
        do: noop
output:
  - greeting: "{{ vars.greeting }}"
"""


def test_an_orquesta_file_says_what_to_change() -> None:
    found = problems(ORQUESTA, "workflows/hello.yaml")
    got = [(p.line, p.task, p.field, p.severity, p.message) for p in found]
    assert got == [
        (12, "greet", "input.message", "error",
         "YAQL expressions (<% ... %>) are not supported: write a Jinja template, e.g. \"<% ctx(x) %>\" as "
         "\"{{ vars.x }}\" (or input.x)"),
        (16, "greet", "next[0].publish.greeting", "error",
         "unknown name 'ctx' in template: StackStorm's ctx(); write 'vars.NAME' for a published variable or "
         "'input.NAME' for an input"),
        (19, "fan", "action", "error",
         "unknown built-in action 'core.local'; the core actions are core.ask, core.echo, core.fail, core.http, "
         "core.noop, core.sleep"),
        (20, "fan", "with", "error",
         "write the items as 'with_items: \"{{ ... }}\"' and the limit as 'concurrency: N' on the task "
         "(StackStorm's with: {items, concurrency}); 'item' is the current item"),
        (24, "fan", "input.host", "error", "'item' is a value, not a function: write 'item' (StackStorm's item())"),
        (24, "fan", "input.host", "error", "'item' and 'index' exist only in the input of a with_items task"),
        (25, "fan", "input.prev", "error", "'task(...)' is not a function: write 'task.NAME.result' for a task's result"),
        (27, "fan", "retry.when", "error", "unknown field (did you mean 'on_error'?)"),
        (33, "fan", "next[1].when", "error",
         "unknown name 'completed' in template: an entry without 'when' fires on every outcome (or use on_complete)"),
        (35, None, "output", "warning",
         "a list of {name: template} renders to a list; to get an object {name: value}, write a mapping "
         "(name: template)"),
    ]


def test_the_orquesta_file_rewritten_as_the_messages_say_runs() -> None:
    rewritten = """
        version: 1.0
        input:
          - who
          - hosts
        vars:
          - greeting: null
        tasks:
          greet:
            action: core.echo
            input:
              message: "{{ input.who }}"
            next:
              - when: "{{ succeeded() }}"
                publish:
                  - greeting: "{{ input.who }}"
                do: fan
          fan:
            action: core.echo
            with_items: "{{ input.hosts }}"
            concurrency: 2
            input:
              host: "{{ item }}"
              prev: "{{ task.greet.result }}"
            retry:
              on_error: "{{ failed() }}"
              count: 3
              delay: 5
            next:
              - when: "{{ failed() }}"
                do: fail
              - do: noop
        output:
          greeting: "{{ vars.greeting }}"
        """
    spec, found = parse(text_of(rewritten), "workflows/hello.yaml")
    assert found == [] and spec is not None and spec.name == "hello"
    stack = MemoryStack()
    stack.register(spec)
    result = stack.run("hello", {"who": "ana", "hosts": ["a", "b", "c"]})
    assert result["status"] == "succeeded"
    assert result["output"] == {"greeting": "ana"}
    assert result["tasks"][1]["result"] == [{"host": h, "prev": {"message": "ana"}} for h in "abc"]


# --- validation messages: reads that would fail at run time ---------------------------------------------


@pytest.mark.parametrize("where, fragment", [
    ('input: {x: "{{ result().id }}"}', "input.x"),
    ('input: {x: "{{ succeeded() }}"}', "input.x"),
    ('when: "{{ failed() }}"', "when"),
    ('with_items: "{{ result() }}"', "with_items"),
    ('timeout: "{{ error().seconds }}"', "timeout"),
])
def test_outcome_functions_where_no_task_has_finished_are_errors(where: str, fragment: str) -> None:
    p = one_error(f"name: d\ntasks:\n  - name: a\n    action: core.echo\n    on_success: b\n"
                  f"  - name: b\n    action: core.echo\n    {where}\n")
    assert (p.line, p.task, p.field) == (8, "b", fragment)
    assert "belongs to a finished task" in p.message and "write 'task.NAME.result'" in p.message


def test_outcome_functions_in_output_are_errors_and_fine_in_transitions() -> None:
    p = one_error('name: d\ntasks: [{name: a, action: core.noop}]\noutput: {r: "{{ result() }}"}\n')
    assert (p.line, p.task, p.field) == (3, None, "output.r")
    assert errors("""
        name: d
        tasks:
          - name: a
            action: core.noop
            retry: {count: 1, on_error: "{{ error().type == 'X' and result() is none }}"}
            publish: [{r: "{{ result() }}"}]
            next:
              - when: "{{ failed() or timed_out() or skipped() }}"
                publish: [{e: "{{ error() }}"}]
                do: [b]
            decision:
              - {when: "{{ succeeded() }}", next: b}
          - {name: b, action: core.noop, join: all}
        """) == []


def test_reading_an_undeclared_input_or_an_unset_variable_is_a_warning_with_a_suggestion() -> None:
    text = """
        name: d
        input:
          service: {type: string}
          replicas: {type: integer, default: 1}
        vars: {image: null}
        tasks:
          - name: a
            action: core.echo
            input:
              x: "{{ input.servce }}"
              y: "{{ vars.imgae }}"
              z: "{{ vars.later ~ vars.get('anything') ~ input.replicas }}"
              guarded: "{{ vars.nothing | default(0) }} {{ input.other if input.other is defined else '' }}"
            publish: [{later: 1}]
        """
    assert errors(text) == []
    assert warnings(text) == [
        "10: a: input.x: unknown input 'servce' (did you mean 'service'?): the workflow declares replicas, service",
        "11: a: input.y: unknown variable 'imgae' (did you mean 'image'?)",
    ]
    assert warnings("name: d\ntasks: [{name: a, action: core.echo, input: {x: '{{ input.anything }}'}}]\n") == []
    assert warnings("name: d\ntasks: [{name: a, action: core.echo, input: {x: '{{ vars.q }}'}}]\n") == [
        "2: a: input.x: unknown variable 'q'; set it in 'vars' or with 'publish'"]

"""The validator's error path (LANGUAGE.md §1): every rule reports FILE:LINE: task NAME: field: message.

Each test feeds one small workflow with one mistake and checks the exact set of
problems: file, line, task, field and a fragment of the message. Lines are
found by searching the YAML text, so the tests say *which* line is meant.
"""
from __future__ import annotations

import textwrap

import pytest

from relayflow.core import yamlpos
from relayflow.core.errors import Problem, ValidationError
from relayflow.core.loader import load_file, load_text, parse, parse_file
from relayflow.core.spec import FAILED, SUCCEEDED, TIMED_OUT, InputParam, RetrySpec, WorkflowSpec

SOURCE = "flows/wf.yaml"


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line of the nth line of ``text`` holding ``snippet``."""
    hits = [i for i, row in enumerate(yaml_text(text).splitlines(), 1) if snippet in row]
    assert len(hits) >= nth, f"{snippet!r} is not in the text {nth} time(s)"
    return hits[nth - 1]


def both_readings(text: str) -> tuple[WorkflowSpec | None, list[Problem]]:
    """``parse`` as users get it, checked against the precise reading (every value's node and
    line from yamlpos): the quick reading must give the same spec, lines and problems."""
    spec, found = parse(text, SOURCE)
    assert (spec, found) == parse(text, SOURCE, precise=True)
    return spec, found


def problems(text: str) -> list[Problem]:
    spec, found = both_readings(yaml_text(text))
    if any(p.severity == "error" for p in found):
        assert spec is None
    return found


def errors(text: str) -> list[Problem]:
    return [p for p in problems(text) if p.severity == "error"]


def expect(text: str, *wanted: tuple[str | int, str | None, str, str]) -> list[Problem]:
    """Assert the errors of ``text`` are exactly ``wanted``: (line or snippet, task, field, message fragment)."""
    found = errors(text)
    want = [(w if isinstance(w, int) else line(text, w), task, field) for w, task, field, _ in wanted]
    got = [(p.line, p.task, p.field) for p in found]
    assert got == want, "\n".join(map(str, found))
    for p, (_, _, _, fragment) in zip(found, wanted, strict=True):
        assert fragment in p.message, str(p)
        assert p.file == SOURCE
        where = f"{SOURCE}:{p.line}: " + (f"task {p.task}: " if p.task is not None else "")
        assert str(p) == f"{where}{p.field}: {p.message}"
    return found


def spec_of(text: str) -> WorkflowSpec:
    spec = load_text(yaml_text(text), SOURCE)
    assert both_readings(yaml_text(text))[0] == spec
    return spec


# --- the line format -------------------------------------------------------------------------


def test_problem_line_is_file_line_task_field_message() -> None:
    text = """
        name: demo
        tasks:
          - name: build
            action: core.echo
            on_sucess: deploy
          - name: deploy
            action: core.noop
        """
    with pytest.raises(ValidationError) as info:
        load_text(yaml_text(text), SOURCE)
    assert [str(p) for p in info.value.problems] == [
        "flows/wf.yaml:5: task build: on_sucess: unknown field (did you mean 'on_success'?)"]
    assert str(info.value) == "flows/wf.yaml:5: task build: on_sucess: unknown field (did you mean 'on_success'?)"


def test_workflow_level_problem_has_no_task_part() -> None:
    text = """
        name: demo
        descripton: typo
        tasks: [{name: a, action: core.noop}]
        """
    (p,) = expect(text, ("descripton", None, "descripton", "did you mean 'description'"))
    assert str(p) == "flows/wf.yaml:2: descripton: unknown field (did you mean 'description'?)"


# --- unknown fields ------------------------------------------------------------------------------


def test_unknown_task_field_with_typo_suggests_the_field() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_failur: b
          - name: b
            action: core.noop
        """
    expect(text, ("on_failur", "a", "on_failur", "unknown field (did you mean 'on_failure'?)"))


def test_unknown_field_without_close_match_lists_the_allowed_fields() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            colour: red
        """
    (p,) = expect(text, ("colour", "a", "colour", "unknown field; allowed: "))
    assert "on_success" in p.message and "with_items" in p.message


@pytest.mark.parametrize("word, meant", [("retries", "retry"), ("params", "input"), ("condition", "when"),
                                         ("on-success", "on_success")])
def test_unknown_field_named_as_other_engines_do_suggests_ours(word: str, meant: str) -> None:
    text = f"""
        name: demo
        tasks:
          - name: a
            action: core.noop
            {word}: 1
        """
    expect(text, (word, "a", word, f"did you mean '{meant}'?"))


def test_unknown_retry_field_suggests_the_field() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            retry:
              count: 2
              delya: 5
        """
    expect(text, ("delya", "a", "retry.delya", "did you mean 'delay'?"))


def test_unknown_next_field_suggests_the_field() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            next:
              - when: "{{ succeeded() }}"
                doo: b
          - name: b
            action: core.noop
        """
    expect(text, ("doo: b", "a", "next[0].doo", "did you mean 'do'?"))


def test_unknown_decision_field_suggests_the_field() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            decision:
              - when: "{{ result() }}"
                next: b
              - next: c
                defualt: true
          - name: b
            action: core.noop
          - name: c
            action: core.noop
        """
    expect(text,
           ("- next: c", "a", "decision[1]", "needs 'when' (or 'default: true')"),
           ("defualt", "a", "decision[1].defualt", "did you mean 'default'?"))


def test_unknown_input_declaration_field_suggests_the_field() -> None:
    text = """
        name: demo
        input:
          service:
            type: string
            requird: true
        tasks: [{name: a, action: core.noop}]
        """
    expect(text, ("requird", None, "input.service.requird", "did you mean 'required'?"))


def test_task_field_inside_a_parallel_sub_task_says_where_it_belongs() -> None:
    text = """
        name: demo
        tasks:
          - name: fan
            type: parallel
            tasks:
              - name: one
                action: core.noop
                on_success: done
          - name: done
            action: core.noop
        """
    expect(text, ("on_success: done", "fan/one", "on_success", "put 'on_success' on the parallel task itself"))


# --- names -------------------------------------------------------------------------------------


def test_duplicate_task_names_point_at_the_second_and_name_the_first() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
          - name: a
            action: core.echo
        """
    expect(text, (line(text, "- name: a", 2), "a", "name",
                  f"duplicate task name (first defined on line {line(text, '- name: a')})"))


def test_missing_workflow_name_and_bad_task_name() -> None:
    text = """
        tasks:
          - name: 9lives
            action: core.noop
          - action: core.noop
        """
    expect(text,
           (1, None, "name", "required field is missing"),
           ("9lives", None, "name", "must start with a letter"),
           ("- action: core.noop", None, "name", "every task needs a name"))


def test_workflow_name_with_spaces_is_an_error() -> None:
    text = """
        name: my demo
        tasks: [{name: a, action: core.noop}]
        """
    expect(text, ("name: my demo", None, "name", "letters, digits"))


# --- transitions to unknown tasks -------------------------------------------------------


def test_transition_to_unknown_task_in_every_style() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: deplyo
            on_failure: [ok, nope1]
            on_timeout: nope2
            on_complete: "ok, nope3"
            decision:
              - when: "{{ result() }}"
                next: nope4
              - default: true
                do: [nope5]
            next:
              - do: nope6
          - name: deploy
            action: core.noop
          - name: ok
            action: core.noop
        """
    expect(text,
           ("on_success: deplyo", "a", "on_success", "unknown task 'deplyo' (did you mean 'deploy'?)"),
           ("on_failure:", "a", "on_failure", "unknown task 'nope1'"),
           ("on_timeout:", "a", "on_timeout", "unknown task 'nope2'"),
           ("on_complete:", "a", "on_complete", "unknown task 'nope3'"),
           ("next: nope4", "a", "decision[0].next", "unknown task 'nope4'"),
           ("do: [nope5]", "a", "decision[1].do", "unknown task 'nope5'"),
           ("do: nope6", "a", "next[0].do", "unknown task 'nope6'"))


def test_a_target_that_is_a_task_name_only_when_taken_whole_is_still_split() -> None:
    # A target naming one task goes the quick way; a name with a comma is split as before,
    # whatever task happens to have that name.
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: "x,y"
          - name: "x,y"
            action: core.noop
        """
    found = errors(text)
    assert [(p.field, p.message) for p in found if p.field.startswith("on_")] == [
        ("on_success", "unknown task 'x'"), ("on_success", "unknown task 'y'")]


def test_transition_target_of_wrong_type() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: {b: 1}
          - name: b
            action: core.noop
        """
    expect(text, ("on_success", "a", "on_success", "must be a task name or a list of task names"))


def test_next_and_decision_of_wrong_shape() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            next: {do: b}
            decision: b
          - name: b
            action: core.noop
        """
    expect(text,
           ("next:", "a", "next", "must be a list of {when, publish, do}"),
           ("decision:", "a", "decision", "must be a list of {when, next} branches"))


def test_decision_branch_with_both_next_and_do_and_two_defaults() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            decision:
              - default: true
                next: b
                do: b
              - default: true
                next: b
          - name: b
            action: core.noop
        """
    expect(text,
           ("decision:", "a", "decision", "only one branch may be the default"),
           ("do: b", "a", "decision[0].do", "'next' or 'do', not both"))


# --- templates ---------------------------------------------------------------------------------


def test_template_syntax_errors_in_input_and_bare_when() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            input:
              msg: "{{ input.x "
            when: "input.x >"
        """
    expect(text,
           ("msg:", "a", "input.msg", "template error: template syntax error"),
           ("when:", "a", "when", "template error: template syntax error"))


def test_unknown_template_name_suggests_the_scope() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            input: {x: "{{ inptu.service }}"}
        """
    expect(text, ("inptu", "a", "input.x", "unknown name 'inptu' in template (did you mean 'input'?)"))


def test_unknown_template_name_without_close_match_lists_the_scopes() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            input: {x: "{{ zebra }}"}
        """
    (p,) = expect(text, ("zebra", "a", "input.x", "unknown name 'zebra' in template"))
    assert "input, vars, task.NAME" in p.message


def test_template_helpers_and_scopes_are_known() -> None:
    text = """
        name: demo
        vars: {n: 1}
        tasks:
          - name: a
            action: core.echo
            input:
              x: "{{ length(keys(merge(input, vars))) + range(3)|length }}"
              y: "{{ system.execution_id ~ parameters ~ variables ~ workflow ~ to_json(tasks) }}"
              z: "{% for k in split('a,b', ',') %}{{ upper(k) }}{% endfor %}"
            publish:
              - r: "{{ result() }}"
            next:
              - when: "{{ failed() or timed_out() or skipped() or succeeded() }}"
                publish: [{e: "{{ error() }}"}]
        output: {a: "{{ task.a.result }}"}
        """
    assert errors(text) == []


def test_unknown_task_reference_in_template_every_spelling() -> None:
    text = """
        name: demo
        tasks:
          - name: build
            action: core.echo
            input:
              a: "{{ task.biuld.result }}"
              b: "{{ tasks['nope'].status }}"
              c: "{{ task.build.result }}"
        output:
          r: "{{ task.gone.result }}"
        """
    expect(text,
           ("a: ", "build", "input.a", "unknown task 'biuld' in template (did you mean 'build'?)"),
           ("b: ", "build", "input.b", "unknown task 'nope' in template"),
           ("r: ", None, "output.r", "unknown task 'gone' in template"))


def test_item_outside_with_items_is_an_error() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            input: {x: "{{ item }}"}
            on_success: d
          - name: d
            action: core.echo
            input: {w: "{{ system.execution_id }}"}
            publish: {q: "{{ result() }}"}
            on_success: b
          - name: b
            action: core.echo
            with_items: [1, 2]
            when: "{{ index > 0 }}"
            input: {x: "{{ item }}", i: "{{ index }}"}
        output: {x: "{{ item }}"}
        """
    expect(text,
           ("input: {x:", "a", "input.x", "'item' and 'index' exist only in the input of a with_items task"),
           ("when:", "b", "when", "exist only in the input of a with_items task"),
           ("output:", None, "output.x", "exist only in the input of a with_items task"))


def test_callback_outside_a_callback_task_is_an_error() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            input: {token: "{{ callback.token }}"}
            on_success: b
          - name: b
            action: core.echo
            callback: true
            input: {token: "{{ callback.token }}"}
        """
    expect(text, ("input: {token", "a", "input.token", "'callback' exists only in a task with 'callback: true'"))


def test_template_errors_in_vars_publish_and_retry_on_error() -> None:
    text = """
        name: demo
        vars: {a: "{{ nope }}"}
        tasks:
          - name: a
            action: core.echo
            publish: {p: "{{ result( }}"}
            retry: {count: 1, on_error: "error().type =="}
        """
    expect(text,
           ("vars:", None, "vars.a", "unknown name 'nope'"),
           ("publish:", "a", "publish.p", "template syntax error"),
           ("retry:", "a", "retry.on_error", "template syntax error"))


# --- wrong types ---------------------------------------------------------------------------------

TASK_TYPE_CASES = [
    ("timeout: -1", "timeout", "must be a positive number of seconds or a \"{{ template }}\", not -1"),
    ("timeout: soon", "timeout", "not 'soon'"),
    ("timeout: true", "timeout", "must be a positive number of seconds"),
    ("retry: {count: -1}", "retry.count", "must be a non-negative integer, not -1"),
    ("retry: {count: '3'}", "retry.count", "must be a non-negative integer, not '3'"),
    ("retry: {count: 1, delay: -2}", "retry.delay", "must be a non-negative number of seconds"),
    ("retry: {count: 1, max_delay: x}", "retry.max_delay", "must be a non-negative number of seconds"),
    ("retry: {count: 1, backoff: quadratic}", "retry.backoff", "use one of constant, linear, exponential"),
    ("retry: {count: 1, jitter: maybe}", "retry.jitter", "must be true or false"),
    ("retry: [1]", "retry", "must be a number of retries or a mapping"),
    ("retry: {count: 1, on_error: 5}", "retry.on_error", "must be a template"),
    ("join: some", "join", "must be 'all' or a positive integer, not 'some'"),
    ("join: 0", "join", "must be 'all' or a positive integer, not 0"),
    ("join: true", "join", "must be 'all' or a positive integer"),
    ("callback: 'yes'", "callback", "must be true or false"),
    ("when: 3", "when", "must be a template"),
    ("input: [1, 2]", "input", "must be a mapping"),
    ("input: plain text", "input", "must be a mapping"),
    ("publish: 5", "publish", "must be a list of {name: template}"),
    ("publish: [{a: 1, b: 2}]", "publish", "each entry must be a single {name: template}"),
    ("type: paralel", "type", "unknown type 'paralel'; use one of action, parallel, workflow (did you mean 'parallel'?)"),
    ("action: ''", "action", "must be an action name"),
]


@pytest.mark.parametrize("field_line, field, fragment", TASK_TYPE_CASES, ids=[c[0] for c in TASK_TYPE_CASES])
def test_wrong_type_of_a_task_field(field_line: str, field: str, fragment: str) -> None:
    action = "" if field_line.startswith("action") else "    action: core.noop\n"
    text = "name: demo\ntasks:\n  - name: a\n" + action + f"    {field_line}\n"
    expect(text, (field_line, "a", field, fragment))


def test_retry_as_a_bare_count_is_accepted() -> None:
    spec = spec_of("""
        name: demo
        tasks: [{name: a, action: core.noop, retry: 3}]
        """)
    assert spec.tasks["a"].retry == RetrySpec(count=3)


ITEM_CASES = [
    ("batch_size: 0", "batch_size", "must be a positive integer, not 0"),
    ("batch_size: '2'", "batch_size", "must be a positive integer, not '2'"),
    ("concurrency: 0", "concurrency", "must be a positive integer or a \"{{ template }}\", not 0"),
    ("concurrency: 1.5", "concurrency", "must be a positive integer"),
    ("with_items: 5", "with_items", "must be a template or a list"),
]


@pytest.mark.parametrize("field_line, field, fragment", ITEM_CASES, ids=[c[0] for c in ITEM_CASES])
def test_wrong_type_of_an_iteration_field(field_line: str, field: str, fragment: str) -> None:
    items = "" if field_line.startswith("with_items") else "    with_items: [1, 2]\n"
    text = "name: demo\ntasks:\n  - name: a\n    action: core.noop\n" + items + f"    {field_line}\n"
    expect(text, (field_line, "a", field, fragment))


def test_batch_size_and_concurrency_without_with_items() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            batch_size: 2
            concurrency: 2
        """
    expect(text,
           ("batch_size", "a", "batch_size", "only applies to a task with with_items"),
           ("concurrency", "a", "concurrency", "only applies to a task with with_items or a parallel task"))


INPUT_CASES = [
    ("{type: strng}", "input.x.type", "unknown type 'strng'; use one of string, integer, number, boolean, object, array"),
    ("{type: integer, default: '3'}", "input.x.default", "default '3' is not of type integer"),
    ("{type: integer, default: true}", "input.x.default", "default True is not of type integer"),
    ("{type: string, enum: a}", "input.x.enum", "must be a list of allowed values"),
    ("{type: string, enum: []}", "input.x.enum", "must list at least one allowed value"),
    ("{type: integer, enum: [1, two]}", "input.x.enum", "'two' is not of type integer"),
    ("{type: string, enum: [a, b], default: c}", "input.x.default", "default 'c' is not one of the enum values ['a', 'b']"),
    ("{type: string, required: yes please}", "input.x.required", "must be true or false"),
    ("5", "input.x", "must be a mapping with type, required, default, enum, description"),
]


@pytest.mark.parametrize("decl, field, fragment", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_wrong_input_declaration(decl: str, field: str, fragment: str) -> None:
    text = f"name: demo\ninput:\n  x: {decl}\ntasks: [{{name: a, action: core.noop}}]\n"
    expect(text, (3, None, field, fragment))


def test_input_declared_as_scalar_or_bad_names() -> None:
    expect("name: demo\ninput: 5\ntasks: [{name: a, action: core.noop}]\n",
           (2, None, "input", "must be a mapping of input name to its declaration"))
    expect("name: demo\ninput:\n  9x: {type: string}\ntasks: [{name: a, action: core.noop}]\n",
           (3, None, "input.9x", "input names must be identifiers"))
    expect("name: demo\nparameters: [a, [b]]\ntasks: [{name: a, action: core.noop}]\n",
           (2, None, "parameters", "list entries must be a name or {name: default}"))


def test_workflow_level_wrong_types() -> None:
    text = """
        name: demo
        version: [1]
        timeout: 0
        max_task_runs: -3
        vars: 7
        tasks: [{name: a, action: core.noop}]
        """
    expect(text,
           ("version", None, "version", "must be text"),
           ("timeout", None, "timeout", "must be a positive number of seconds, not 0"),
           ("max_task_runs", None, "max_task_runs", "must be a positive integer"),
           ("vars", None, "vars", "must be a mapping of variable name to initial value"))


def test_input_and_parameters_together_is_an_error() -> None:
    text = """
        name: demo
        input: {a: {type: string}}
        parameters: {b: {type: string}}
        output: {}
        output_map: {}
        tasks: [{name: a, action: core.noop}]
        """
    expect(text,
           ("parameters", None, "parameters", "'parameters' is an alias of 'input'; give only one"),
           ("output_map", None, "output_map", "'output_map' is an alias of 'output'; give only one"))


def test_tasks_missing_empty_or_wrong_type() -> None:
    expect("name: demo\n", (1, None, "tasks", "required field is missing"))
    expect("name: demo\ntasks: []\n", (2, None, "tasks", "a workflow needs at least one task"))
    expect("name: demo\ntasks: build\n", (2, None, "tasks", "must be a list of tasks (or a map of name to task)"))
    expect("name: demo\ntasks:\n  - build\n", (3, None, "tasks", "task #1 must be a mapping"))


# --- action / workflow / type combinations --------------------------------------------------

COMBO_CASES = [
    ("{name: a}", "action", "an action task needs 'action' (or 'workflow', or 'type: parallel')"),
    ("{name: a, type: action, workflow: child}", "workflow", "a task of type action runs 'action', not 'workflow'"),
    ("{name: a, type: action, action: core.noop, workflow: child}", "workflow", "runs 'action', not 'workflow'"),
    ("{name: a, action: core.noop, workflow: child}", "action", "a workflow task runs its 'workflow' and takes no 'action'"),
    ("{name: a, type: workflow}", "workflow", "a workflow task needs 'workflow: NAME'"),
    ("{name: a, workflow: 'not a name'}", "workflow", "must be the name of a registered workflow"),
    ("{name: a, type: parallel, action: core.noop, tasks: [{name: s, action: core.noop}]}", "action",
     "a parallel task runs its 'tasks' and takes no 'action'"),
    ("{name: a, type: parallel, workflow: child, tasks: [{name: s, action: core.noop}]}", "workflow",
     "a parallel task runs its 'tasks' and takes no 'workflow'"),
    ("{name: a, type: parallel}", "tasks", "a parallel task needs 'tasks': a non-empty list of sub-tasks"),
    ("{name: a, type: parallel, tasks: []}", "tasks", "a parallel task needs 'tasks'"),
    ("{name: a, type: action, action: core.noop, tasks: [{name: s, action: core.noop}]}", "tasks",
     "only a 'type: parallel' task holds sub-tasks, not a action task"),
    ("{name: a, workflow: child, callback: true}", "callback", "only an action task can wait for a callback"),
]


@pytest.mark.parametrize("task, field, fragment", COMBO_CASES, ids=[c[0] for c in COMBO_CASES])
def test_action_workflow_type_combinations(task: str, field: str, fragment: str) -> None:
    expect(f"name: demo\ntasks:\n  - {task}\n", (3, "a", field, fragment))


def test_sub_task_problems_name_parent_and_sub_task() -> None:
    text = """
        name: demo
        tasks:
          - name: fan
            type: parallel
            tasks:
              - name: one
                type: parallel
                tasks: [{name: x, action: core.noop}]
              - name: two
              - name: two
                action: core.noop
              - 7
        """
    expect(text,
           (line(text, "type: parallel", 2), "fan/one", "type", "a parallel task cannot hold another parallel task"),
           ("- name: two", "fan/two", "action", "an action task needs 'action'"),
           (line(text, "- name: two", 2), "fan", "tasks",
            f"duplicate sub-task name 'two' (first defined on line {line(text, '- name: two')})"),
           ("- 7", "fan", "tasks", "sub-task #4 must be a mapping"))


def test_valid_parallel_and_workflow_tasks_load() -> None:
    spec = spec_of("""
        name: demo
        tasks:
          - name: fan
            concurrency: 2
            tasks:
              - {name: one, action: core.echo, input: {n: 1}, retry: 2, timeout: 5}
              - {name: two, workflow: child, input: {n: 2}}
            on_success: call
          - name: call
            workflow: child
        """)
    fan, call = spec.tasks["fan"], spec.tasks["call"]
    assert fan.type == "parallel" and [s.name for s in fan.subtasks] == ["one", "two"]
    assert [(s.type, s.action, s.workflow) for s in fan.subtasks] == [
        ("action", "core.echo", None), ("workflow", None, "child")]
    assert fan.subtasks[0].retry == RetrySpec(count=2) and fan.subtasks[0].timeout == 5
    assert (call.type, call.workflow, call.action) == ("workflow", "child", None)


# --- graph rules -------------------------------------------------------------------------------


def test_join_inside_a_cycle_is_an_error() -> None:
    text = """
        name: demo
        tasks:
          - name: start
            action: core.noop
            on_success: [a, b]
          - name: a
            action: core.noop
            on_success: check
          - name: b
            action: core.noop
            on_success: check
          - name: check
            action: core.noop
            join: all
            on_failure: a
        """
    expect(text, ("join: all", "check", "join", "a join task cannot be inside a cycle"))


def test_join_count_larger_than_inbound_tasks_is_an_error() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: [b, c]
          - name: b
            action: core.noop
            on_success: d
          - name: c
            action: core.noop
            on_success: d
          - name: d
            action: core.noop
            join: 3
        """
    expect(text, ("join: 3", "d", "join", "waits for 3 inbound tasks but only 2 lead here (b, c); it could never run"))


def test_join_count_equal_to_inbound_tasks_is_fine() -> None:
    spec = spec_of("""
        name: demo
        tasks:
          - {name: a, action: core.noop, on_success: [b, c]}
          - {name: b, action: core.noop, on_success: d}
          - {name: c, action: core.noop, on_success: d}
          - {name: d, action: core.noop, join: 2}
        """)
    assert spec.tasks["d"].join == 2 and spec.inbound["d"] == ("b", "c")


def test_no_entry_task_when_every_task_is_a_target() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: b
          - name: b
            action: core.noop
            on_complete: a
        """
    expect(text, ("tasks:", None, "tasks", "no entry task: every task is the target of a transition"))


def test_unreachable_tasks_are_errors() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
          - name: b
            action: core.noop
            on_success: c
          - name: c
            action: core.noop
            on_failure: b
        """
    expect(text,
           ("- name: b", "b", "name", "unreachable: no path leads here from an entry task (only c leads here"),
           ("- name: c", "c", "name", "unreachable: no path leads here from an entry task (only b leads here"))


def test_several_inbound_tasks_without_join_is_a_warning_not_an_error() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_success: [b, c]
          - name: b
            action: core.noop
            on_success: d
          - name: c
            action: core.noop
            on_success: d
          - name: d
            action: core.noop
        """
    found = problems(text)
    assert [(p.severity, p.line, p.task, p.field) for p in found] == [("warning", line(text, "- name: d"), "d", "join")]
    assert "2 tasks lead here (b, c) and there is no 'join': it runs once per arrival" in found[0].message
    assert str(found[0]).startswith(f"{SOURCE}:{found[0].line}: task d: join: warning: ")
    spec, _ = parse(yaml_text(text), SOURCE)
    assert spec is not None and spec.tasks["d"].join is None
    assert load_text(yaml_text(text), SOURCE).name == "demo"  # warnings do not stop loading


def test_loop_target_with_several_inbound_tasks_gets_no_warning() -> None:
    text = """
        name: demo
        tasks:
          - name: start
            action: core.noop
            on_success: work
          - name: work
            action: core.noop
            on_success: check
          - name: check
            action: core.noop
            decision:
              - when: "{{ result() }}"
                next: work
        """
    assert problems(text) == []


def test_join_all_silences_the_inbound_warning() -> None:
    text = """
        name: demo
        tasks:
          - {name: a, action: core.noop, on_success: [b, c]}
          - {name: b, action: core.noop, on_success: d}
          - {name: c, action: core.noop, on_success: d}
          - {name: d, action: core.noop, join: all}
        """
    assert problems(text) == []


# --- YAML and file shape -----------------------------------------------------------------------


def test_yaml_syntax_error_reports_its_line() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            input: {x: 1
          - name: b
        """
    (p,) = errors(text)
    assert p.field == "yaml" and p.task is None and p.message.startswith("invalid YAML: ")
    assert line(text, "input: {x: 1") <= p.line <= line(text, "- name: b")
    with pytest.raises(ValidationError):
        load_text(yaml_text(text), SOURCE)


def test_yaml_bad_indentation_reports_its_line() -> None:
    text = "name: demo\ntasks:\n  - name: a\n     action: core.noop\n"
    (p,) = errors(text)
    assert (p.line, p.field) == (4, "yaml") and "invalid YAML" in p.message


def test_duplicate_yaml_key_is_an_error_on_the_second_key() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            action: core.echo
        """
    expect(text, (line(text, "action: core.echo"), None, "yaml", "duplicate key 'action'"))


@pytest.mark.parametrize("text, fragment", [
    ("- a\n- b\n", "a workflow file must be a mapping with 'name' and 'tasks'"),
    ("just text\n", "a workflow file must be a mapping"),
    ("", "a workflow file must be a mapping"),
    ("# only a comment\n", "a workflow file must be a mapping"),
], ids=["list", "scalar", "empty", "comment"])
def test_non_mapping_file(text: str, fragment: str) -> None:
    expect(text, (1, None, "workflow", fragment))


def test_recursive_alias_is_an_error_not_a_crash() -> None:
    (p,) = errors("name: demo\nloop: &x [1, *x]\ntasks: [{name: a, action: core.noop}]\n")
    assert (p.line, p.field) == (2, "yaml") and "alias refers to a value that contains it" in p.message


def test_alias_expansion_bomb_is_refused_quickly() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    (p,) = errors(text)  # 9**8 values if expanded
    assert p.field == "yaml" and f"more than {yamlpos.MAX_VALUES} values" in p.message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    (p,) = errors("name: demo\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    assert p.field == "yaml"


def test_merge_keys_and_anchors_keep_lines() -> None:
    text = """
        name: demo
        defaults: &d {action: core.echo}
        tasks:
          - <<: *d
            name: a
            on_success: b
          - name: b
        """
    # the anchor's own key is an unknown workflow field; the merged task is fine; b lacks an action
    expect(text,
           ("defaults:", None, "defaults", "unknown field"),
           ("- name: b", "b", "action", "an action task needs 'action'"))


def test_tasks_as_a_map_and_as_a_list_load_the_same_spec() -> None:
    as_list = spec_of("""
        name: demo
        tasks:
          - name: a
            action: core.echo
            on_success: b
          - name: b
            action: core.noop
        """)
    as_map = spec_of("""
        name: demo
        tasks:
          a:
            action: core.echo
            on_success: b
          b:
            action: core.noop
        """)
    assert list(as_map.tasks) == list(as_list.tasks) == ["a", "b"]
    for name in ("a", "b"):
        m, lst = as_map.tasks[name], as_list.tasks[name]
        assert (m.action, m.type, m.targets(), [t.outcomes for t in m.next]) == \
            (lst.action, lst.type, lst.targets(), [t.outcomes for t in lst.next])
    assert as_map.entries == as_list.entries == ("a",)
    assert (as_map.tasks["a"].line, as_map.tasks["b"].line) == (3, 6)


def test_map_form_task_name_disagreeing_with_its_key() -> None:
    text = """
        name: demo
        tasks:
          a:
            name: b
            action: core.noop
          c: 5
        """
    expect(text,
           ("name: b", "a", "name", "differs from the key naming the task"),
           ("c: 5", "c", "tasks", "a task must be a mapping"))


def test_list_aliases_for_parameters_output_map_and_vars() -> None:
    spec = spec_of("""
        name: demo
        parameters:
          - service
          - replicas: 2
        vars:
          - deployed: false
          - image: null
        output_map:
          - image: "{{ vars.image }}"
        tasks:
          - name: a
            action: core.noop
        """)
    assert spec.inputs == (InputParam("service"), InputParam("replicas", default=2))
    assert spec.vars == {"deployed": False, "image": None}
    assert spec.output == [{"image": "{{ vars.image }}"}]


def test_vars_list_entries_must_be_single_key_maps() -> None:
    expect("name: demo\nvars:\n  - a: 1\n    b: 2\ntasks: [{name: a, action: core.noop}]\n",
           (3, None, "vars", "list entries must be {name: value}"))


# --- every problem at once -----------------------------------------------------------------


def test_every_problem_is_reported_at_once_sorted_by_line() -> None:
    text = """
        name: demo
        tasks:
          - name: d
            action: core.noop
            on_success: missing
          - name: a
            action: core.echo
            input: {x: "{{ input.x "}
          - name: b
            action: core.noop
            timeout: -5
          - name: a
            action: core.noop
        vars: 3
        outptu: {}
        """
    found = expect(text,
                   ("on_success: missing", "d", "on_success", "unknown task 'missing'"),
                   ("input: {x:", "a", "input.x", "template syntax error"),
                   ("timeout: -5", "b", "timeout", "positive number of seconds"),
                   (line(text, "- name: a", 2), "a", "name", "duplicate task name"),
                   ("vars: 3", None, "vars", "must be a mapping"),
                   ("outptu", None, "outptu", "did you mean 'output'?"))
    assert [p.line for p in found] == sorted(p.line for p in found)
    with pytest.raises(ValidationError) as info:
        load_text(yaml_text(text), SOURCE)
    assert len(str(info.value).splitlines()) == 6


def test_five_different_errors_give_five_lines() -> None:
    text = """
        name: demo
        tasks:
          - name: a
            action: core.noop
            on_sucess: b
            retry: {count: x}
            join: none
          - name: b
            action: core.noop
            callback: maybe
            when: "{{ nope }}"
        """
    with pytest.raises(ValidationError) as info:
        load_text(yaml_text(text), SOURCE)
    printed = str(info.value).splitlines()
    assert len(printed) == 5
    assert [int(row.split(":")[1]) for row in printed] == [5, 6, 7, 10, 11]
    assert all(row.startswith(SOURCE + ":") for row in printed)


# --- a valid file --------------------------------------------------------------------------------


def test_valid_file_loads_into_the_expected_spec_with_legacy_fields_in_documented_order() -> None:
    text = """
        name: demo.deploy
        description: Build and deploy
        version: 1.0
        input:
          service: {type: string, required: true, description: the service}
          replicas: {type: integer, default: 2, enum: [1, 2, 3]}
        vars: {deployed: false}
        timeout: 3600
        max_task_runs: 50
        tasks:
          - name: build
            action: core.echo
            input: {image: "{{ input.service }}:latest"}
            retry: {count: 2, delay: 1.5, backoff: exponential, max_delay: 10, jitter: true, on_error: "{{ true }}"}
            timeout: 30
            publish:
              - image: "{{ result().image }}"
            next:
              - when: "{{ succeeded() }}"
                publish: [{seen: true}]
                do: deploy
            decision:
              - when: "{{ result().image }}"
                next: deploy
              - default: true
                next: notify
            on_complete: notify
            on_timeout: notify
            on_failure: notify
            on_success: deploy
          - name: deploy
            action: core.echo
            join: 1
            with_items: "{{ [1, 2] }}"
            batch_size: 2
            concurrency: 1
            input: {n: "{{ item }}"}
          - name: notify
            action: core.noop
            join: all
            when: "vars.deployed"
        output:
          image: "{{ vars.image }}"
        """
    spec = spec_of(text)
    assert (spec.name, spec.description, spec.version, spec.timeout, spec.max_task_runs) == \
        ("demo.deploy", "Build and deploy", "1.0", 3600, 50)
    assert spec.inputs == (
        InputParam("service", "string", True, description="the service"),
        InputParam("replicas", "integer", False, default=2, enum=(1, 2, 3)),
    )
    assert spec.vars == {"deployed": False}
    assert spec.output == {"image": "{{ vars.image }}"}
    assert spec.entries == ("build",)
    assert spec.inbound == {"build": (), "deploy": ("build",), "notify": ("build",)}
    assert spec.source == SOURCE and spec.text == yaml_text(text)
    build = spec.tasks["build"]
    assert build.line == line(text, "- name: build")
    assert build.retry == RetrySpec(count=2, delay=1.5, backoff="exponential", max_delay=10, jitter=True,
                                    on_error="{{ true }}")
    assert build.timeout == 30
    assert build.publish == (("image", "{{ result().image }}"),)
    # publish -> on_success -> on_failure -> on_timeout -> on_complete -> decision, then next entries
    assert [t.origin for t in build.next] == ["on_success", "on_failure", "on_timeout", "on_complete",
                                              "decision", "next[0]"]
    on_success, on_failure, on_timeout, on_complete, decision, nxt = build.next
    assert on_success.outcomes == frozenset({SUCCEEDED}) and on_success.do == ("deploy",)
    assert on_failure.outcomes == frozenset({FAILED})  # with on_timeout, only non-timeout failures
    assert on_timeout.outcomes == frozenset({TIMED_OUT})
    assert on_complete.outcomes is None and on_complete.when is None
    assert on_success.line == line(text, "on_success: deploy")
    assert decision.outcomes == frozenset({SUCCEEDED})
    assert [(b.when, b.do, b.default) for b in decision.decision] == [
        ("{{ result().image }}", ("deploy",), False), (None, ("notify",), True)]
    assert (nxt.when, nxt.publish, nxt.do, nxt.outcomes) == ("{{ succeeded() }}", (("seen", True),), ("deploy",), None)
    assert build.targets() == ("deploy", "notify")
    deploy = spec.tasks["deploy"]
    assert (deploy.join, deploy.with_items, deploy.batch_size, deploy.concurrency) == (1, "{{ [1, 2] }}", 2, 1)
    assert spec.tasks["notify"].join == "all" and spec.tasks["notify"].when == "vars.deployed"


def test_on_failure_without_on_timeout_also_catches_timeouts() -> None:
    spec = spec_of("""
        name: demo
        tasks:
          - {name: a, action: core.noop, on_failure: "b, c"}
          - {name: b, action: core.noop}
          - {name: c, action: core.noop}
        """)
    (t,) = spec.tasks["a"].next
    assert t.outcomes == frozenset({FAILED, TIMED_OUT}) and t.do == ("b", "c")


def test_template_timeout_and_concurrency_are_kept() -> None:
    spec = spec_of("""
        name: demo
        input: {t: {type: number, default: 5}}
        tasks:
          - name: a
            action: core.noop
            timeout: "{{ input.t }}"
            with_items: input.list
            concurrency: "{{ input.t }}"
        """)
    a = spec.tasks["a"]
    assert (a.timeout, a.concurrency, a.with_items) == ("{{ input.t }}", "{{ input.t }}", "input.list")


# --- files ----------------------------------------------------------------------------------------


def test_load_file_reads_and_reports_with_the_path(tmp_path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: demo\ntasks: [{name: a, action: core.noop}]\n", encoding="utf-8")
    assert load_file(str(good)).source == str(good)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: demo\ntasks: [{name: a}]\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_file(str(bad))
    assert str(info.value) == f"{bad}:2: task a: action: an action task needs 'action' (or 'workflow', or 'type: parallel')"


def test_missing_and_non_utf8_files_are_problems_not_crashes(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValidationError) as info:
        load_file(str(missing))
    (p,) = info.value.problems
    assert (p.file, p.line, p.field) == (str(missing), 0, "file") and "cannot read" in p.message
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    spec, found = parse_file(str(latin))
    assert spec is None and [(p.field, p.line) for p in found] == [("file", 0)]
    assert "not UTF-8" in found[0].message


# --- what would fail at run time is caught here -----------------------------------------------


def test_a_function_read_as_a_value_says_to_call_it() -> None:
    text = """
        name: wf
        tasks:
          - name: build
            action: core.echo
            publish:
              - image: "{{ result.image }}"
              - ok: "{{ succeeded }}"
              - fine: "{{ result().image }}"
        """
    expect(text,
           ("result.image", "build", "publish.image", "'result' is a function: write 'result().image'"),
           ("ok:", "build", "publish.ok", "'succeeded' is a function: write 'succeeded()'"))


def test_an_action_that_cannot_exist_is_an_error() -> None:
    text = """
        name: wf
        tasks:
          - {name: a, action: core.nope, on_success: b}
          - {name: b, action: aws.lamda}
          - {name: c, action: my.own.action}
        """
    expect(text,
           ("core.nope", "a", "action", "unknown built-in action 'core.nope'"),
           ("aws.lamda", "b", "action", "the aws actions are aws.lambda"))


def test_a_loop_no_when_can_leave_is_an_error_and_a_success_only_loop_a_warning() -> None:
    text = """
        name: wf
        tasks:
          - {name: start, action: core.noop, on_success: poll}
          - {name: poll, action: core.noop, on_complete: wait}
          - {name: wait, action: core.sleep, input: {seconds: 1}, next: [{do: poll}]}
        """
    expect(text, ("name: poll", "poll", "on_complete",
                  "endless loop poll -> wait -> poll: every transition on it fires on every outcome"))
    guarded = text.replace("next: [{do: poll}]", "next: [{when: \"{{ task.poll.result != {} }}\", do: poll}]")
    assert errors(guarded) == []
    success_only = text.replace("on_complete: wait", "on_success: wait")
    expect(success_only, ("name: poll", "poll", "on_success",
                          "endless loop poll -> wait -> poll: its transitions fire on success with no 'when', and "
                          "none of its tasks can fail or be skipped"))
    may_fail = success_only.replace("action: core.noop, on_success: wait", "action: 'python:jobs:poll', "
                                                                          "on_success: wait")
    (warning,) = [p for p in problems(may_fail) if "loop" in p.message]
    assert warning.severity == "warning" and "only a failure leaves it" in warning.message
    with_fail = text.replace("on_complete: wait", "on_complete: wait, next: [{when: \"{{ false }}\", do: fail}]")
    assert [p for p in problems(with_fail) if "loop" in p.message] == []


def test_a_failure_fed_only_into_a_join_is_a_warning() -> None:
    text = """
        name: wf
        tasks:
          - {name: a, action: core.fail, on_failure: handle}
          - {name: b, action: core.noop, on_success: handle}
          - {name: handle, join: all, action: core.noop}
        """
    (warning,) = problems(text)
    assert (warning.line, warning.task, warning.field, warning.severity) == (3, "a", "on_failure", "warning")
    assert "a failure of a goes only into the join handle" in warning.message
    assert problems(text.replace("on_failure: handle}", "on_failure: [handle, noop]}")) == []


def test_noop_and_fail_are_commands_beside_task_names_and_reserved() -> None:
    spec = spec_of("""
        name: wf
        tasks:
          - {name: a, action: core.noop, on_failure: [b, noop], on_success: fail}
          - {name: b, action: core.noop}
        """)
    on_success, on_failure = sorted(spec.tasks["a"].next, key=lambda tr: tr.origin != "on_success")
    assert on_success.do == () and on_success.commands == {"fail"}
    assert on_failure.do == ("b",) and on_failure.commands == {"noop"}
    assert spec.tasks["a"].targets() == ("b",)
    expect("""
        name: wf
        tasks:
          - {name: a, action: core.noop, on_success: noop}
          - {name: noop, action: core.noop}
        """, ("name: noop", "noop", "name", "'noop' is reserved"))


def test_templated_defaults_and_vars_may_read_only_what_exists_at_start() -> None:
    expect("""
        name: wf
        input:
          a: {type: integer, default: "{{ input.a }}"}
          b: {type: integer, default: "{{ vars.x }}"}
          c: {type: integer, default: "{{ input.b + 1 }}"}
        vars:
          - later: "{{ vars.first }}"
          - first: 1
          - own: "{{ vars.own }}"
          - run: "{{ task.t.result }}"
        tasks:
          - {name: t, action: core.noop}
        """,
           ("a: {type", None, "input.a.default", "a default cannot read its own input"),
           ("b: {type", None, "input.b.default", "it sees input: the inputs given and those declared before it, "
                                                 "not 'vars'"),
           ("later:", None, "vars.later", "reads vars.first, declared after it: move first above later"),
           ("own:", None, "vars.own", "reads itself"),
           ("run:", None, "vars.run", "not 'task'"))


def test_a_template_repeated_is_checked_again_where_its_scope_differs() -> None:
    # Each template is checked once per place it could read differently: the same text that is
    # fine in one task is reported in another, where the names it reads do not exist.
    text = """
        name: demo
        tasks:
          - name: a
            action: core.echo
            callback: true
            input: {y: "{{ callback.token }}"}
            publish: {r: "{{ result() }}"}
            on_success: c
          - name: c
            action: core.echo
            with_items: [1, 2]
            input: {x: "{{ item }}"}
            on_success: d
          - name: d
            action: core.echo
            input: {w: "{{ system.execution_id }}"}
            publish: {q: "{{ result() }}"}
            on_success: b
          - name: b
            action: core.echo
            input: {x: "{{ item }}", y: "{{ callback.token }}", z: "{{ result() }}"}
        """
    expect(text,
           ("input: {x: \"{{ item }}\", y:", "b", "input.x",
            "'item' and 'index' exist only in the input of a with_items task"),
           ("input: {x: \"{{ item }}\", y:", "b", "input.y",
            "'callback' exists only in a task with 'callback: true'"),
           ("input: {x: \"{{ item }}\", y:", "b", "input.z", "result() belongs to a finished task"))


@pytest.mark.parametrize("text", ["name: demo\ntasks:\n  - name: a\n    action: core.noop\n", "a: [\n", "a: 1\na: 2\n"],
                         ids=["valid", "syntax error", "duplicate key"])
def test_parse_leaves_the_cyclic_collector_as_it_found_it(text: str) -> None:
    import gc

    assert gc.isenabled()
    parse(text, SOURCE)
    assert gc.isenabled()  # on again, whichever way the reading ended
    gc.disable()
    try:
        parse(text, SOURCE)
        assert not gc.isenabled()  # and left off for a caller that had turned it off
    finally:
        gc.enable()

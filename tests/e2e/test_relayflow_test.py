"""`relayflow test`: YAML workflow tests with mocks, expectations, a readable diff and graph coverage.

Each test writes a workflow and a test file into tmp_path and calls
``relayflow.cli.main`` in-process (one test runs the installed script).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from relayflow import cli

SCRIPT = Path(sys.executable).with_name("relayflow")

PIPELINE = """
name: demo.pipeline
input:
  service: {type: string, default: web}
vars: {image: null}
tasks:
  - name: build
    action: core.echo
    input: {image: "{{ input.service }}:1"}
    publish:
      - image: "{{ result().image }}"
    on_success: test
    on_failure: notify
  - name: test
    action: core.fail
    input: {message: tests failed}
    retry: {count: 2, delay: 10}
    on_success: deploy
    on_failure: notify
  - name: deploy
    action: core.echo
    input: {image: "{{ vars.image }}"}
    decision:
      - when: "{{ result().image.endswith(':1') }}"
        next: announce
      - default: true
        next: notify
  - name: announce
    action: core.noop
  - name: notify
    action: core.echo
    input: {message: "{{ input.service }} did not ship"}
output:
  image: "{{ vars.image }}"
"""


@pytest.fixture(autouse=True)
def _isolate_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    hits = [i for i, row in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), 1) if snippet in row]
    return hits[nth - 1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def pipeline_test(tmp_path: Path, cases: str, workflow: str = PIPELINE) -> Path:
    write(tmp_path, "pipeline.yaml", workflow)
    return write(tmp_path, "tests/pipeline_test.yaml", "workflow: ../pipeline.yaml\ncases:\n"
                 + textwrap.indent(textwrap.dedent(cases).lstrip("\n"), "  "))


def json_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, *argv, "--json")
    assert out.count("\n") == 1
    return code, json.loads(out)


def only_case(report: dict) -> dict:
    (case,) = report["files"][0]["cases"]
    return case


# --- passing, failing, the report ---------------------------------------------------------------


def test_passing_cases_exit_0_and_print_pass_and_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: tests pass on the second attempt and it ships
          input: {service: api}
          mocks:
            test: [{fail: flaky}, {result: {passed: 12}}]
          expect:
            status: succeeded
            output: {image: "api:1"}
            order: [build, test, deploy, announce]
            attempts: {test: 2}
            ran: {notify: 0}
        """)
    code, out, err = run(capsys, str(path))
    assert code == 0, out + err
    assert f"{path}: workflow demo.pipeline" in out
    assert "  PASS  tests pass on the second attempt and it ships" in out
    assert "coverage of demo.pipeline" in out and "4/5 tasks ran" in out
    assert out.rstrip().endswith("1 case: 1 passed, 0 failed")


def test_a_failing_case_exits_1_with_a_diff_per_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: expects the wrong things
          mocks:
            test: {result: {passed: 1}}
          expect:
            status: failed
            output: {image: "web:2", tag: latest}
            ran: {notify: 1}
            order: [build, test, notify]
            inputs: {deploy: {image: "web:2"}}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert f"  FAIL  expects the wrong things  ({path}:3)" in out
    assert 'status: expected "failed", got "succeeded"' in out
    assert 'output.image: expected "web:2", got "web:1"' in out
    assert 'output.tag: expected "latest", got (missing)' in out
    assert "ran.notify: expected 1, got 0" in out
    assert ('order:\n            expected: ["build", "test", "notify"]\n'
            '            got:      ["build", "test", "deploy", "announce"]\n') in out
    assert 'inputs.deploy.image: expected "web:2", got "web:1"' in out
    assert "ran: build#1 succeeded, test#1 succeeded, deploy#1 succeeded, announce#1 succeeded" in out
    assert out.rstrip().endswith("1 case: 0 passed, 1 failed")


def test_exact_output_reports_unexpected_keys_and_includes_ignores_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = PIPELINE.replace('output:\n  image: "{{ vars.image }}"',
                                'output:\n  image: "{{ vars.image }}"\n  service: "{{ input.service }}"')
    path = pipeline_test(tmp_path, """
        - name: exact
          mocks: {test: {result: {}}}
          expect: {output: {image: "web:1"}}
        - name: subset
          mocks: {test: {result: {}}}
          expect: {output_includes: {image: "web:1"}}
        """, workflow)
    code, report = json_report(capsys, str(path))
    assert code == 1
    exact, subset = report["files"][0]["cases"]
    assert exact["mismatches"] == [{"field": "output.service", "expected": "(missing)", "got": "web",
                                    "note": "not expected"}]
    assert subset["passed"] and subset["mismatches"] == []


def test_long_values_are_shown_on_two_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: long
          mocks: {build: {result: {image: "a-very-long-image-name-that-goes-on-and-on:1", extra: [1, 2, 3]}}}
          expect:
            results: {build: {image: "short:1", extra: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "          results.build.extra:\n            expected: [1, 2, 3, 4," in out
    assert "\n            got:      [1, 2, 3]\n" in out


def test_json_report_has_cases_mismatches_executions_and_coverage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: ships
          mocks: {test: {result: {}}}
          expect: {status: succeeded}
        - name: wrong status
          expect: {status: failed}
        """)
    code, report = json_report(capsys, str(path))
    assert code == 1
    assert report["passed"] is False
    assert report["summary"] == {"cases": 2, "passed": 1, "failed": 1, "bad_files": 0}
    ships, wrong = report["files"][0]["cases"]
    assert ships["passed"] and ships["execution"]["status"] == "succeeded"
    assert wrong["mismatches"] == [{"field": "status", "expected": "failed", "got": "succeeded"}]
    assert wrong["line"] == 6
    assert [t["name"] for t in wrong["execution"]["tasks"]] == ["build", "test", "notify"]
    (cov,) = report["coverage"]
    assert cov["workflow"] == "demo.pipeline" and cov["cases"] == 2
    assert cov["tasks"] == {"total": 5, "ran": 5, "never_ran": []}


# --- mocks ------------------------------------------------------------------------------------


def test_unmocked_tasks_run_their_real_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: core.fail really fails three times and notify really echoes
          input: {service: api}
          expect:
            status: succeeded
            attempts: {test: 3}
            errors: {test: {type: ActionFailed, message: "tests failed"}}
            results: {notify: {message: "api did not ship"}}
            elapsed: 20
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_fail_mock_sets_type_message_and_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: typed failure
          mocks:
            build: {fail: {type: CompilerError, message: "syntax error in main.c", result: {log: "main.c:3"}}}
          expect:
            errors: {build: {type: CompilerError, message: "main.c"}}
            results: {build: {log: "main.c:3"}}
            ran: {notify: 1, test: 0}
        - name: a fail given as text is an ActionFailed
          mocks: {build: {fail: boom}}
          expect:
            errors: {build: {type: ActionFailed, message: boom}}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_timeout_mock_hangs_until_the_tasks_timeout_or_times_out_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.timeouts
        tasks:
          - name: slow
            action: core.noop
            timeout: 45
            on_timeout: fallback
          - name: fallback
            action: core.noop
            on_timeout: last
          - name: last
            action: core.noop
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: hangs, then the 45 s timeout fires; without a timeout it ends timed_out at once
            mocks:
              slow: {timeout: true}
              fallback: {timeout: true}
            expect:
              status: succeeded
              statuses: {slow: timed_out, fallback: timed_out, last: succeeded}
              errors:
                slow: {type: Timeout, message: "timed out after 45"}
                fallback: {type: Timeout, message: "mocked"}
              elapsed: 45
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_after_delays_an_outcome_and_can_lose_to_the_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.race
        tasks:
          - name: a
            action: core.noop
            timeout: 30
            on_complete: done
          - name: b
            action: core.noop
            on_complete: done
          - name: done
            action: core.noop
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: b answers first, a after 20 s
            mocks: {a: {result: 1, after: 20}, b: {result: 2, after: 5}}
            expect: {status: succeeded, statuses: {"done#1": succeeded}, elapsed: 20, ran: {done: 2}}
          - name: a answers too late
            mocks: {a: {result: 1, after: 60}}
            expect: {statuses: {a: timed_out}, elapsed: 30}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_items_mock_per_index_with_default_and_real_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.items
        input:
          files: {type: array}
        tasks:
          - name: load
            action: core.echo
            with_items: "{{ input.files }}"
            input: {path: "{{ item }}", n: "{{ index }}"}
            retry: {count: 1}
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: item 1 fails then succeeds, item 2 fails for good, the rest echo
            input: {files: [a.csv, b.csv, c.csv, d.csv]}
            mocks:
              load:
                items:
                  1: [{fail: locked}, {result: {rows: 10}}]
                  2: {fail: corrupt}
            expect:
              status: failed
              error: {task: load, type: ItemsFailed}
              errors: {load: {failed_indexes: [2]}}
              results: {load: [{path: a.csv, n: 0}, {rows: 10}, null, {path: d.csv, n: 3}]}
              inputs:
                load: [{path: a.csv, n: 0}, {path: b.csv, n: 1}, {path: c.csv, n: 2}, {path: d.csv, n: 3}]
              attempts: {load: 2}
          - name: a default covers every item not listed
            input: {files: [a.csv, b.csv]}
            mocks:
              load: {items: {0: {result: first}}, default: {result: other}}
            expect:
              results: {load: [first, other]}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_runs_mock_per_loop_iteration_last_repeats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.poll
        vars: {polls: 0}
        tasks:
          - name: start
            action: core.noop
            on_success: check
          - name: check
            action: core.noop
            publish:
              - polls: "{{ vars.polls + 1 }}"
            next:
              - when: "{{ result().state != 'done' }}"
                do: wait
          - name: wait
            action: core.sleep
            input: {seconds: 60}
            on_success: check
        output: {polls: "{{ vars.polls }}"}
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: done on the third poll
            mocks:
              check: {runs: [{result: {state: running}}, {result: {state: running}}, {result: {state: done}}]}
            expect:
              output: {polls: 3}
              ran: {check: 3, wait: 2}
              results: {"check#2": {state: running}, check: {state: done}}
              elapsed: 120
          - name: a map of run numbers, the rest from default; a mocked sleep takes no time
            mocks:
              check: {runs: {4: {result: {state: done}}}, default: {result: {state: running}}}
              wait: {result: {slept: 0}}
            expect:
              output: {polls: 4}
              elapsed: 0
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_parallel_sub_task_workflow_task_and_child_mocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "child.yaml", """
        name: demo.child
        tasks:
          - name: step
            action: core.echo
            input: {n: 1}
        output: {n: "{{ task.step.result.n }}"}
        """)
    write(tmp_path, "wf.yaml", """
        name: demo.parent
        tasks:
          - name: checks
            type: parallel
            tasks:
              - {name: lint, action: core.noop}
              - {name: unit, action: core.noop}
            on_success: child
          - name: child
            workflow: demo.child
        output: {checks: "{{ task.checks.result }}", child: "{{ task.child.result }}"}
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: a sub-task is mocked as PARENT/SUB, the child runs for real
            mocks: {checks/unit: {result: {passed: 3}}}
            expect:
              output: {checks: {lint: {}, unit: {passed: 3}}, child: {n: 1}}
          - name: a mocked workflow task starts no child
            mocks: {child: {result: {n: 99}}}
            expect:
              output_includes: {child: {n: 99}}
          - name: child_mocks reach tasks of the child workflow
            child_mocks: {demo.child: {step: {result: {n: 7}}}}
            expect:
              output_includes: {child: {n: 7}}
          - name: a failing child fails the parent task
            child_mocks: {demo.child: {step: {fail: nope}}}
            expect:
              status: failed
              error: {task: child, type: ChildWorkflowFailed}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_a_mocked_workflow_task_starts_no_child_execution(tmp_path: Path) -> None:
    from relayflow import testing
    from relayflow.testing.run import register_all
    write(tmp_path, "child.yaml", "name: demo.child\ntasks: [{name: s, action: core.noop}]\n")
    write(tmp_path, "wf.yaml", "name: demo.parent\ntasks: [{name: c, workflow: demo.child}]\n")
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases: [{name: mocked, mocks: {c: {result: 1}}, expect: {status: succeeded}}]
        """)
    tf = testing.load_test_file(str(path))
    stack = testing.MockedStack({"demo.parent": tf.cases[0].mocks})
    register_all(stack, tf)
    stack.run("demo.parent")
    assert [h.workflow for h in stack.store.executions.values()] == ["demo.parent"]


def test_vars_elapsed_and_run_addressing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: vars and the retry delays
          expect:
            vars: {image: "web:1"}
            elapsed: 20
            statuses: {"test#1": failed, notify: succeeded}
        - name: wrong vars and a run that never happened
          expect:
            vars: {image: "web:9", nope: 1}
            statuses: {"test#2": failed}
        """)
    code, report = json_report(capsys, str(path))
    assert code == 1
    good, bad = report["files"][0]["cases"]
    assert good["passed"], good
    assert bad["mismatches"] == [
        {"field": "statuses.test#2", "expected": "failed", "got": "(missing)", "note": "the task never ran"},
        {"field": "vars.image", "expected": "web:9", "got": "web:1"},
        {"field": "vars.nope", "expected": 1, "got": "(missing)"},
    ]


def test_an_input_the_workflow_rejects_fails_the_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: bad input
          input: {service: 5, extra: true}
          expect: {status: succeeded}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "the input does not match the workflow's inputs: input 'extra': not declared" in out


def test_json_true_is_not_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: types matter
          mocks: {build: {result: {image: "x:1", ok: true, n: 1}}}
          expect: {results: {build: {image: "x:1", ok: 1, n: 1.0}}}
        """)
    code, report = json_report(capsys, str(path))
    assert code == 1
    assert only_case(report)["mismatches"] == [{"field": "results.build.ok", "expected": 1, "got": True}]


# --- coverage ---------------------------------------------------------------------------------


def test_coverage_names_tasks_that_never_ran_and_entries_that_never_fired(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: ships
          mocks: {test: {result: {}}}
          expect: {status: succeeded}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "coverage of demo.pipeline (" in out and "1 case): 4/5 tasks ran, 3/6 transitions fired" in out
    assert "  never ran: notify\n" in out
    assert f"    build -> notify  (on_failure, line {line_of(PIPELINE, 'on_failure: notify')})" in out
    assert f"    test -> notify  (on_failure, line {line_of(PIPELINE, 'on_failure: notify', 2)})" in out
    assert f"    deploy -> notify  (decision[1], line {line_of(PIPELINE, 'decision:')})" in out
    assert "deploy -> announce" not in out


def test_coverage_adds_up_across_cases_and_files_of_one_workflow(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = pipeline_test(tmp_path, """
        - name: ships
          mocks: {test: {result: {}}}
          expect: {status: succeeded}
        - name: build fails
          mocks: {build: {fail: x}}
          expect: {ran: {notify: 1}}
        """)
    second = write(tmp_path, "tests/more_test.yaml", """
        workflow: ../pipeline.yaml
        cases:
          - name: tests fail
            expect: {ran: {notify: 1}}
          - name: the image is odd
            mocks: {test: {result: {}}, deploy: {result: {image: "web:2"}}}
            expect: {ran: {notify: 1, announce: 0}}
        """)
    code, report = json_report(capsys, str(first), str(second))
    assert code == 0, report
    (cov,) = report["coverage"]
    assert cov["cases"] == 4
    assert cov["tasks"]["never_ran"] == []
    assert cov["transitions"] == {"total": 6, "fired": 6, "never_fired": []}


def test_coverage_of_next_entries_counts_each_entry_even_with_the_same_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.next
        tasks:
          - name: probe
            action: core.echo
            input: {code: 200}
            next:
              - when: "{{ result().code == 200 }}"
                do: [report]
              - when: "{{ result().code == 500 }}"
                do: [report]
              - when: "{{ failed() }}"
                do: [report]
              - publish: [{seen: true}]
          - name: report
            action: core.noop
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: 200
            expect: {ran: {report: 1}}
        """)
    code, report = json_report(capsys, str(path))
    assert code == 0
    (cov,) = report["coverage"]
    assert [(e["task"], e["entry"]) for e in cov["transitions"]["never_fired"]] == \
        [("probe", "next[1]"), ("probe", "next[2]")]
    assert cov["transitions"]["total"] == 3


# --- bad test files: exit 2 with FILE:LINE ------------------------------------------------------


def test_unknown_fields_and_tasks_name_the_line_and_suggest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, """
        - name: typos
          mocks:
            biuld: {result: 1}
            test: {reslt: 1}
          expect:
            staus: succeeded
            ran: {deploi: 1}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 2
    lines = out.splitlines()
    assert f"{path}:5: mocks: workflow demo.pipeline has no task 'biuld' (did you mean 'build'?)" in lines
    assert f"{path}:6: mock of test: unknown field 'reslt' (did you mean 'result'?)" in lines
    assert f"{path}:8: expect: unknown field 'staus' (did you mean 'status'?)" in lines
    assert f"{path}:9: expect.ran: workflow demo.pipeline has no task 'deploi' (did you mean 'deploy'?)" in lines
    assert lines[-1] == "0 cases: 0 passed, 0 failed; test files with problems: 1"


@pytest.mark.parametrize("case, fragment", [
    ("{name: a}", "case: 'expect' is missing"),
    ("{name: a, expect: {status: done}}", "expect.status: 'done' is not one of succeeded, failed, timed_out, cancelled"),
    ("{name: a, mocks: {build: []}, expect: {}}", "mock of build: an empty list"),
    ("{name: a, mocks: {build: {result: 1, fail: x}}, expect: {}}", "give exactly one of result, fail, timeout, real"),
    ("{name: a, mocks: {build: {timeout: yes please}}, expect: {}}", "write 'timeout: true'"),
    ("{name: a, mocks: {build: {runs: {0: {result: 1}}}}, expect: {}}", "run numbers start at 1"),
    ("{name: a, mocks: {build: {result: 1, after: -1}}, expect: {}}", "after must be a number of seconds"),
    ("{name: a, expect: {statuses: {'build#x': failed}}}", "write TASK#N with a run number"),
    ("{name: a, expect: {order: build}}", "expect.order: a list of task names"),
    ("{name: a, child_mocks: {demo.nope: {}}, expect: {}}", "child_mocks: no workflow named 'demo.nope'"),
    ("{expect: {}}", "every case needs a 'name'"),
])
def test_bad_case_is_a_file_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, fragment: str) -> None:
    path = pipeline_test(tmp_path, f"- {case}\n")
    code, out, _ = run(capsys, str(path))
    assert code == 2
    assert f"{path}:3: " in out and fragment in out, out


def test_bad_file_level_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "pipeline.yaml", PIPELINE)
    missing = write(tmp_path, "a_test.yaml", "workflow: nope.yaml\ncases: [{name: a, expect: {}}]\n")
    no_cases = write(tmp_path, "b_test.yaml", "workflow: pipeline.yaml\ncases: []\n")
    syntax = write(tmp_path, "c_test.yaml", "workflow: pipeline.yaml\ncases:\n  - name: [\n")
    extra = write(tmp_path, "d_test.yaml", "workflow: pipeline.yaml\ncase: []\n")
    code, out, _ = run(capsys, str(missing), str(no_cases), str(syntax), str(extra))
    assert code == 2
    assert f"{missing}:1: workflow file nope.yaml not found" in out
    assert f"{no_cases}:2: test file: 'cases' must be a non-empty list of cases" in out
    assert f"{syntax}:4: invalid YAML" in out
    assert f"{extra}:2: test file: unknown field 'case' (did you mean 'cases'?)" in out


def test_an_invalid_workflow_is_a_bad_test_file_listing_its_problems(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "broken.yaml", "name: demo.broken\ntasks:\n  - name: a\n    action: core.noop\n    on_sucess: a\n")
    path = write(tmp_path, "t.yaml", "workflow: broken.yaml\ncases: [{name: a, expect: {status: succeeded}}]\n")
    code, out, _ = run(capsys, str(path))
    assert code == 2
    assert f"{path}:1: workflow file broken.yaml does not validate:" in out
    assert "broken.yaml:5: task a: on_sucess: unknown field (did you mean 'on_success'?)" in out


def test_bad_files_do_not_stop_the_good_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = pipeline_test(tmp_path, "- {name: ok, expect: {status: succeeded}}\n")
    bad = write(tmp_path, "tests/bad_test.yaml", "workflow: ../pipeline.yaml\n")
    code, out, _ = run(capsys, str(good), str(bad))
    assert code == 2
    assert "  PASS  ok" in out
    assert f"{bad}:1: test file: 'cases' must be a non-empty list of cases" in out


def test_a_folder_stands_for_its_test_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline_test(tmp_path, "- {name: ok, expect: {status: succeeded}}\n")
    write(tmp_path, "tests/second_test.yaml", "workflow: ../pipeline.yaml\ncases: [{name: two, expect: {}}]\n")
    code, out, _ = run(capsys, str(tmp_path / "tests"))
    assert code == 0
    assert "PASS  ok" in out and "PASS  two" in out and "2 cases: 2 passed, 0 failed" in out


def test_python_actions_beside_the_workflow_are_importable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "rf_test_helpers_mod.py", "def double(payload):\n    return {'n': payload['n'] * 2}\n")
    write(tmp_path, "wf.yaml", """
        name: demo.py
        tasks: [{name: d, action: "python:rf_test_helpers_mod:double", input: {n: 21}}]
        """)
    path = write(tmp_path, "sub/wf_test.yaml", "workflow: ../wf.yaml\ncases: [{name: a, expect: {results: {d: {n: 42}}}}]\n")
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_the_installed_script_exits_1_on_a_failing_case(tmp_path: Path) -> None:
    path = pipeline_test(tmp_path, "- {name: wrong, expect: {status: failed}}\n")
    proc = subprocess.run([str(SCRIPT), "test", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "FAIL  wrong" in proc.stdout and 'status: expected "failed", got "succeeded"' in proc.stdout


def test_approval_and_callback_tasks_are_answered_through_their_token(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.waits
        tasks:
          - name: approve
            action: core.ask
            input: {prompt: "ship?", schema: {type: object}}
            timeout: 3600
            on_success: job
          - name: job
            action: core.echo
            callback: true
            input: {token: "{{ callback.token }}"}
            timeout: 600
        output: {answer: "{{ task.approve.result }}", job: "{{ task.job.result }}"}
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: answered after ten minutes, the job calls back after five
            mocks:
              approve: {result: {approved: true}, after: 600}
              job: {result: {rows: 3}, after: 300}
            expect: {output: {answer: {approved: true}, job: {rows: 3}}, elapsed: 900}
          - name: a rejected answer and a failed callback
            mocks:
              approve: {result: {approved: false}}
              job: {fail: {type: JobFailed, message: "exit 3"}}
            expect:
              status: failed
              error: {task: job, type: JobFailed}
          - name: nobody answers
            mocks: {approve: {timeout: true}}
            expect: {status: failed, error: {task: approve, type: Timeout}, elapsed: 3600}
          - name: the job never calls back
            mocks: {approve: {result: {approved: true}}, job: {timeout: true}}
            expect: {status: failed, error: {task: job, type: Timeout}, elapsed: 600}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 0, out


def test_a_workflow_left_waiting_fails_the_case_saying_on_what(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", "name: demo.wait\ntasks: [{name: approve, action: core.ask, input: {prompt: ok?}}]\n")
    path = write(tmp_path, "wf_test.yaml", "workflow: wf.yaml\ncases: [{name: unanswered, expect: {}}]\n")
    code, report = json_report(capsys, str(path))
    assert code == 1
    case = only_case(report)
    assert case["error"] == ("the workflow did not finish: it is still running, waiting on approve#1 "
                             "(nothing will answer it here: mock it, or give it a timeout)")
    assert case["execution"]["status"] == "running"


# --- finding test files: folders, subfolders, workflows given by mistake ----------------------------------


def test_a_folder_stands_for_the_test_files_named_so_in_it_and_its_subfolders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "pipeline.yaml", PIPELINE)
    case = "cases: [{name: ok, expect: {status: succeeded}}]\n"
    first = write(tmp_path, "tests/pipeline_test.yaml", "workflow: ../pipeline.yaml\n" + case)
    second = write(tmp_path, "tests/deep/test_again.yml", "workflow: ../../pipeline.yaml\n" + case)
    write(tmp_path, "tests/notes.yaml", "not: a test file, and not named like one\n")
    write(tmp_path, ".hidden/pipeline_test.yaml", "workflow: ../nope.yaml\n" + case)
    impostor = write(tmp_path, "tests/impostor_test.yaml", PIPELINE)
    code, out, _ = run(capsys, str(tmp_path))
    assert code == 0, out
    assert f"{first}: workflow demo.pipeline" in out and f"{second}: workflow demo.pipeline" in out
    assert f"{impostor}: skipped: named like a test file, but it is a workflow (it has 'tasks', not 'cases')" in out
    assert "notes.yaml" not in out and ".hidden" not in out
    assert out.splitlines()[-1] == "2 cases: 2 passed, 0 failed"


def test_a_workflow_file_given_runs_the_test_files_that_name_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = pipeline_test(tmp_path, "- {name: ok, expect: {status: succeeded}}\n")
    write(tmp_path, "other.yaml", "name: demo.other\ntasks: [{name: a, action: core.noop}]\n")
    write(tmp_path, "tests/other_test.yaml", "workflow: ../other.yaml\ncases: [{name: other, expect: {}}]\n")
    code, out, _ = run(capsys, str(tmp_path / "pipeline.yaml"))
    assert code == 0, out
    assert f"{path}: workflow demo.pipeline" in out and "other" not in out
    assert out.splitlines()[-1] == "1 case: 1 passed, 0 failed"


def test_a_workflow_without_tests_or_a_folder_without_test_files_is_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = write(tmp_path, "lonely/pipeline.yaml", PIPELINE)
    code, out, _ = run(capsys, str(workflow))
    assert code == 2
    assert f"{workflow}:1: this is a workflow, not a test file, and no test file under {workflow.parent} names it" \
        in out
    code, out, _ = run(capsys, str(tmp_path / "lonely"))
    assert code == 2
    assert f"{tmp_path / 'lonely'}: no test files here or in its subfolders (test files are named *_test.yaml " \
           "or test_*.yaml)" in out


def test_relayflow_test_examples_runs_every_example_test_file(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    code, out, _ = run(capsys, str(examples))
    assert code == 0, out
    ran = sorted(Path(line.split(":")[0]).name for line in out.splitlines() if ": workflow " in line)
    assert ran == sorted(p.name for p in (examples / "tests").glob("*_test.yaml"))
    assert "skipped" not in out


# --- mocks are held to the rules of real runs --------------------------------------------------------------

ASKING = """
name: demo.asking
input: [kind]
tasks:
  - name: approve
    action: core.ask
    input:
      prompt: ship it?
      schema: {type: object, properties: {approved: {type: boolean}}, required: [approved]}
    timeout: 60
    on_success: ask_more
  - name: ask_more
    action: core.ask
    input:
      schema: {type: object, properties: {n: {type: "{{ input.kind }}"}}, required: [n]}
    timeout: 60
  - name: checks
    type: parallel
    tasks:
      - {name: lint, action: core.noop}
      - {name: unit, action: core.noop}
"""


def test_a_mocked_answer_that_breaks_the_written_schema_is_a_file_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "asking.yaml", ASKING)
    text = """
        workflow: asking.yaml
        cases:
          - name: a yes that is text
            input: {kind: integer}
            mocks:
              approve: [{result: {approved: "yes"}}, {result: {approved: true}}]
            expect: {statuses: {approve: succeeded}}
        """
    path = write(tmp_path, "asking_test.yaml", text)
    code, out, _ = run(capsys, str(path))
    assert code == 2, out
    bad_line = line_of(text, '{approved: "yes"}')
    assert f"{path}:{bad_line}: mock of approve: the answer does not match the task's " \
           "schema (data.approved must be boolean); the approval API would refuse it" in out
    fixed = write(tmp_path, "asking_test.yaml", text.replace('"yes"', "true"))
    code, out, _ = run(capsys, str(fixed))
    assert code == 0, out


def test_a_mocked_answer_that_breaks_a_templated_schema_fails_the_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "asking.yaml", ASKING)
    path = write(tmp_path, "asking_test.yaml", """
        workflow: asking.yaml
        cases:
          - name: a number that is text
            input: {kind: integer}
            mocks:
              approve: {result: {approved: true}}
              ask_more: {result: {n: three}}
            expect: {status: succeeded}
          - name: a number
            input: {kind: integer}
            mocks:
              approve: {result: {approved: true}}
              ask_more: {result: {n: 3}}
            expect: {status: succeeded, results: {ask_more: {n: 3}}}
        """)
    code, out, _ = run(capsys, str(path))
    assert code == 1, out
    assert "FAIL  a number that is text" in out and "PASS  a number" in out
    assert "the mocked answer to ask_more does not match its schema (data.n must be integer); the approval API " \
           "would refuse it" in out


def test_a_mock_of_a_parallel_task_is_a_file_problem_naming_its_sub_tasks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "asking.yaml", ASKING)
    text = """
        workflow: asking.yaml
        cases:
          - name: parallel
            input: {kind: integer}
            mocks:
              checks: {result: {}}
              checks/lint: {fail: lint failed}
            expect: {status: failed}
        """
    path = write(tmp_path, "asking_test.yaml", text)
    code, out, _ = run(capsys, str(path))
    assert code == 2, out
    assert f"{path}:{line_of(text, 'checks: {result')}: mocks: checks is a parallel task: it runs no action of its " \
           "own, so a mock of it would never be used; mock its sub-tasks (checks/lint, checks/unit)" in out


def test_coverage_counts_do_noop_and_do_fail_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "wf.yaml", """
        name: demo.commands
        input: [free]
        tasks:
          - name: check
            action: core.echo
            input: {free: "{{ input.free }}"}
            next:
              - when: "{{ result().free < 10 }}"
                do: fail
              - when: "{{ result().free >= 10 }}"
                do: [deploy, noop]
          - {name: deploy, action: core.fail, on_failure: noop}
        """)
    path = write(tmp_path, "wf_test.yaml", """
        workflow: wf.yaml
        cases:
          - name: enough room
            input: {free: 50}
            expect: {status: succeeded, ran: {deploy: 1}}
        """)
    code, report = json_report(capsys, str(path))
    assert code == 0
    (cov,) = report["coverage"]
    assert cov["transitions"]["total"] == 3
    assert [(e["task"], e["entry"], e["targets"]) for e in cov["transitions"]["never_fired"]] == \
        [("check", "next[0]", ["fail"])]

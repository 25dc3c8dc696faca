"""``relayflow test``: workflow tests written as YAML, run on the in-memory stack.

A test file names one workflow file (relative to the test file) and holds cases:

    workflow: ../deploy.yaml          # the workflow under test
    workflows: [../child.yaml]        # optional: more workflow files to register (the
                                      # workflow's sibling files are registered anyway)
    cases:
      - name: tests fail, so nothing is deployed
        input: {service: web}
        mocks:                        # per task; tasks without a mock run their real action
          build: {result: {image: "web:1"}}
          unit_tests:                 # a list: one outcome per attempt, the last repeats
            - {fail: {type: TestFailure, message: "3 tests failed"}}
            - {timeout: true}
        child_mocks:                  # mocks for tasks of child workflows, by workflow name
          demo.child: {step: {result: 1}}
        expect:
          status: failed
          error: {task: unit_tests, type: Timeout}
          ran: {deploy: 0}

An outcome is ``{result: X}``, ``{fail: "message"}`` (or ``{fail: {type, message,
result}}``), ``{timeout: true}`` or ``{real: true}`` (run the real action), with an
optional ``after: SECONDS`` of virtual time before it arrives. ``{timeout: true}``
on a task with a ``timeout`` makes the attempt hang until its timeout fires;
without one the attempt ends ``timed_out`` at once. A mock is an outcome, a list
of outcomes (per attempt), or a selector ``{runs: ..., items: ..., default: ...}``:
``runs`` picks per run (a list, whose last entry repeats, or a map of run
number), ``items`` per with_items index (a list or a map of index), ``default``
for anything not listed. A selector with nothing for a run or item runs the real
action. A ``parallel`` sub-task is mocked as ``PARENT/SUB``.

Expectations (all optional; a task key is ``NAME`` for its latest run or
``NAME#N`` for run N):

    status            succeeded | failed | timed_out | cancelled
    output            exact;  output_includes: only the keys given
    error             the workflow error: only the keys given; ``message`` is a substring
    ran               {task: number of runs}  (0: never ran)
    attempts          {task: attempts}
    order             the names of the task runs in start order, exactly
    inputs            {task: the rendered input the action received} exact; inputs_include: subset
                      (with_items: the list of item inputs; parallel: {sub-task: input})
    results           {task: result} exact; results_include: subset
    statuses          {task: status}
    errors            {task: error}, as ``error``
    vars              {name: value}: the listed variables at the end
    elapsed           virtual seconds from start to end

Everything runs on :class:`relayflow.harness.MemoryStack` with its virtual clock;
the worker hook ``execute`` serves the mocks. Across all cases of a workflow the
report lists the tasks that never ran and the transitions (one per ``on_*``,
``next[i]`` and ``decision[i]`` entry) that never fired.
"""
from __future__ import annotations

from .coverage import Coverage, transition_entries
from .diffs import Mismatch, check, diff
from .mocked import MockedStack
from .model import Case, Mock, MockRefused, Outcome, TestFile, TestFileError
from .reader import load_test_file
from .report import format_text, to_json
from .run import CaseResult, Report, run_case, run_files

__all__ = ["Case", "CaseResult", "Coverage", "Mismatch", "Mock", "MockRefused", "MockedStack", "Outcome", "Report",
           "TestFile", "TestFileError",
           "check", "diff", "format_text", "load_test_file", "run_case", "run_files", "to_json",
           "transition_entries"]


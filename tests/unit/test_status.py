"""The status tables: every change they list is applied, every other one is refused."""
from __future__ import annotations

import json

import pytest

from relayflow.core.records import Execution, TaskRun, Unit
from relayflow.core.status import (
    EXECUTION_CHANGES,
    EXECUTION_FINAL,
    RUN_CHANGES,
    RUN_FINAL,
    UNIT_CHANGES,
    ExecutionStatus,
    IllegalStatusChange,
    RunStatus,
    UnitStatus,
    change_status,
)


def _record(kind: type, status: str) -> object:
    if kind is ExecutionStatus:
        return Execution("e", "wf", "v1", {}, status=status)
    if kind is RunStatus:
        return TaskRun("t", 1, 1, status=status)
    return Unit(0, status=status)


TABLES = [(ExecutionStatus, EXECUTION_CHANGES), (RunStatus, RUN_CHANGES), (UnitStatus, UNIT_CHANGES)]


@pytest.mark.parametrize("kind,table", TABLES, ids=["execution", "run", "unit"])
def test_every_status_has_a_row(kind, table):
    assert set(table) == set(kind)


@pytest.mark.parametrize("kind,table", TABLES, ids=["execution", "run", "unit"])
def test_each_listed_change_applies_and_every_other_is_refused(kind, table):
    for current in kind:
        for new in kind:
            record = _record(kind, current.value)  # as a store reads it back: a plain string
            if new in table[current]:
                assert change_status(record, new) == current
                assert record.status == new
            else:
                with pytest.raises(IllegalStatusChange) as info:
                    change_status(record, new)
                assert (info.value.current, info.value.new) == (current, new)
                assert record.status == current.value  # left as it was


def test_the_changes_the_conductor_relies_on():
    assert ExecutionStatus.RUNNING in EXECUTION_CHANGES[ExecutionStatus.FAILED]  # redrive
    assert ExecutionStatus.SUCCEEDED in EXECUTION_CHANGES[ExecutionStatus.PAUSED]  # last attempts end while paused
    assert RunStatus.SKIPPED in RUN_CHANGES[RunStatus.PENDING]  # a join that can never fire
    assert UnitStatus.RUNNING in UNIT_CHANGES[UnitStatus.WAITING]  # a retry
    assert UnitStatus.FAILED in UNIT_CHANGES[UnitStatus.PENDING]  # input that does not render


def test_a_finished_run_never_restarts():
    run = TaskRun("build", 1, 1, status="succeeded")
    with pytest.raises(IllegalStatusChange, match="a task run cannot go from 'succeeded' to 'running'"):
        change_status(run, RunStatus.RUNNING)
    assert run.status == "succeeded"


def test_an_unknown_stored_status_is_refused_by_name():
    with pytest.raises(IllegalStatusChange, match="a unit cannot go from 'sleeping' to 'running'"):
        change_status(Unit(0, status="sleeping"), UnitStatus.RUNNING)


def test_finals_are_the_rows_with_no_way_out():
    assert {"succeeded", "failed", "timed_out", "cancelled"} == EXECUTION_FINAL
    assert {"succeeded", "failed", "timed_out", "skipped", "cancelled"} == RUN_FINAL


def test_statuses_keep_their_strings_in_records_and_json():
    run = TaskRun("t", 1, 1)
    change_status(run, RunStatus.RUNNING)
    assert json.dumps(run.to_dict()["status"]) == '"running"'
    assert f"task.{RunStatus.TIMED_OUT}" == "task.timed_out"

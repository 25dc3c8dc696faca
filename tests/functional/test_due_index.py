"""``StateStore.list_due``, the index of unfinished heads with a deadline, on both stores.

The reconciler reads it instead of every execution: it must list each unfinished head whose
deadline is at or before ``until`` (DynamoDB's index may add later ones of the same bucket),
never a finished one or one without a deadline, and go on from any entry's key.
"""
from __future__ import annotations

import pytest

from relayflow.adapters.dynamodb_due import DUE_BUCKET
from relayflow.core.records import Execution

NOW = 1_800_000_000.0


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    if request.param == "memory":
        from relayflow.adapters.memory import MemoryStore

        yield MemoryStore(clock=lambda: NOW)
        return
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as stack:
        yield stack.runtime.store


def head(eid: str, deadline: float | None, status: str = "running") -> Execution:
    return Execution(id=eid, workflow="w", spec_version="1", input={}, status=status, created_at=NOW,
                     finished_at=NOW if status != "running" else None, deadline=deadline)


def test_the_index_lists_unfinished_heads_with_a_deadline_in_pages(store):
    due = {f"due-{i:02d}": NOW - 100 * i for i in range(23)}  # spread over the index's partitions
    for eid, deadline in due.items():
        assert store.create_execution(head(eid, deadline))
    assert store.create_execution(head("no-deadline", None))
    assert store.create_execution(head("far", NOW + 10 * DUE_BUCKET))
    assert store.create_execution(head("ended", NOW - 50, status="succeeded"))
    seen, after, pages = [], None, 0
    while True:
        page, after = store.list_due(NOW, 5, after)
        pages += 1
        assert len(page) <= 5
        seen += [d.execution_id for d in page]
        assert all(d.since <= due[d.execution_id] for d in page)  # a lower bound of the deadline
        if after is None:
            break
        assert after == page[-1].key  # goes on after the last entry
    assert sorted(seen) == sorted(due) and pages >= 5  # each once, none of the others
    everything, _ = store.list_due(None, 100)
    assert {d.execution_id for d in everything} == {*due, "far"}
    # resuming after any entry's key gives exactly those after it
    first, _ = store.list_due(NOW, 7)
    rest, after = store.list_due(NOW, 100, first[-1].key)
    assert after is None and sorted([d.execution_id for d in first + rest]) == sorted(due)


def test_a_head_leaves_the_index_when_it_ends_or_drops_its_deadline(store):
    store.create_execution(head("a", NOW - 10))
    store.create_execution(head("b", NOW - 10))
    assert {d.execution_id for d in store.list_due(NOW)[0]} == {"a", "b"}
    assert store.clear_deadline("a", NOW - 10)
    assert store.mark_failed("b", {"type": "Poison", "message": "x"})
    assert store.list_due(NOW)[0] == [] and store.list_due(None)[0] == []

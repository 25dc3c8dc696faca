"""The table's ``due`` index: the running executions whose head has a deadline, for the reconciler.

A head carries ``due_pk`` / ``due_sk`` while its execution runs with a deadline, and no
more once it ends, pauses or waits without one (the index is sparse). The key keeps the
deadline by bucket, so that a head rewritten with a deadline in the same bucket leaves the
index alone: a keys-only entry whose keys did not change costs no index write (AWS's rules:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations).
The reconciler then reads the heads of the buckets up to now's, at most 3 runs early.
"""
from __future__ import annotations

import zlib
from typing import Any

from ..core.records import RUNNING, Execution
from ..ports import Due, DuePage

DUE_BUCKET = 900.0
# Entries are spread over this many partitions: a partition key value takes at most 1,000
# write units a second (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html),
# and each execution moves its entry about once per bucket it runs in.
DUE_SHARDS = 8


def due_keys(execution: Execution) -> tuple[str | None, str | None]:
    """The head's ``due_pk`` and ``due_sk``: (None, None) outside the index."""
    if execution.status != RUNNING or execution.deadline is None:
        return None, None
    return (f"DUE#{zlib.crc32(execution.id.encode()) % DUE_SHARDS}",
            f"{int(execution.deadline // DUE_BUCKET):012d}#{execution.id}")


def list_due(model: Any, until: float | None = None, limit: int = 100, after: str | None = None) -> DuePage:
    """``StateStore.list_due`` on the index, shard after shard, each by bucket: the heads
    whose deadline's bucket is ``until``'s or earlier. A key is ``<shard>|<due_sk>``."""
    shard, last = 0, None
    if after:
        head, _, tail = after.partition("|")
        shard, last = int(head), tail or None
    bound = f"{int(until // DUE_BUCKET) + 1:012d}" if until is not None else None
    out = list[Due]()
    while shard < DUE_SHARDS:
        want = limit - len(out)
        condition: Any = None
        if last is not None and bound is not None:
            if last >= bound:  # (AWS refuses a BETWEEN whose bounds are reversed)
                shard, last = shard + 1, None
                continue
            condition = model.due_sk.between(last + "\x00", bound)  # inclusive: just after ``last``
        elif last is not None:
            condition = model.due_sk > last
        elif bound is not None:
            condition = model.due_sk < bound
        rows = list(model.due.query(f"DUE#{shard}", range_key_condition=condition, limit=want))
        out += [Due(row.pk.removeprefix("EXEC#"), int(row.due_sk.split("#", 1)[0]) * DUE_BUCKET,
                    f"{shard}|{row.due_sk}") for row in rows[:want]]
        if len(out) == limit:
            return out, out[-1].key  # (a next page may find nothing more)
        shard, last = shard + 1, None
    return out, None

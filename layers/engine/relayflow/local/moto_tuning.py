"""Adjustments to moto, in-process, that the embedded stack needs and AWS does not.

* **Sending stays O(1) per message.** moto's ``Queue.attributes`` computes every
  attribute, the three ``ApproximateNumberOfMessages*`` counts included, by
  walking every message in the queue and reading the clock for each; and
  ``send_message`` reads ``attributes`` four times to learn whether the queue
  uses content-based deduplication. Sending n messages to a queue holding n
  therefore cost O(n²): 500 uncapped ``with_items`` items took over a minute
  where 10-at-a-time took seconds. ``receive_message`` reads them too, once per
  message received (for the retention period). While a message is sent or
  received the counts (which neither uses) answer 0 instead of being counted;
  everywhere else (``GetQueueAttributes``) they are counted as before. The
  attribute names' conversion to Python names, a pure function moto repeats for
  every attribute of every such read, is cached.
* **One moto write at a time.** moto's backends are plain dicts and lists with
  no locking. ``relayflow serve`` answers API requests on their own threads
  while the pump runs the handlers on another, as Lambda would run them side by
  side; each request to moto is made whole under one process-wide lock, so a
  thread waits at most for another's single AWS call, never for its handler. A
  waiting API request is granted the lock before the pump's waiting calls
  (``relayflow.priority_lock``); other threads take turns in arrival order.
  DynamoDB's GetItem, Query and BatchGetItem only read moto's dicts (once a
  GetItem of a missing partition no longer adds it), so they hold the lock
  shared, side by side: a request's reads do not wait for the pump's Query of
  a big run's records (seconds in moto, for 1,000 items), only writes do.
* **A Query reads its partition only.** moto's ``Table.query`` on the table
  itself (no index) starts from ``all_items()``: every item of the table,
  sorted, with Python-level comparisons of key values, then keeps those of the
  queried partition. Each Query thus cost O(N log N) in the whole table, which
  grows with every execution and item: in ``bench/serve_latency.py`` the
  pump's Query of a 300-item run's records held moto's lock for up to 1.3 s,
  and a request arriving then waited that long. DynamoDB reads only the
  partition (Query "finds items based on primary key values", the partition
  key's value selecting one partition: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html);
  here the query starts from that partition's items, which moto then sorts,
  filters and pages as before. A Query of an index starts from every item
  unsorted: moto keeps those of the index's partition and sorts them by the
  index's keys and the table's, an order in which no two items tie.
* **Key values compare as what they are.** moto orders and matches items by
  ``DynamoType`` comparisons, each of which builds both sides' ``cast_value``
  through half a dozen type tests; sorting a partition of a few thousand items
  for every Query made a 1,000-pass loop's own reads (a page of one: its newest
  run) cost O(n) each. Two strings (every key of the table is one) now compare
  their values directly, which is what ``cast_value`` gives a string; any other
  pair goes to moto's comparison as before.

All are applied once per process and change nothing moto answers.
"""
from __future__ import annotations

import functools
import operator
import threading
from typing import Any

from ..priority_lock import PriorityLock

_applied = False
_sending = threading.local()
_partition = threading.local()  # the items of the partition a Query on this thread reads


MOTO_LOCK = PriorityLock("moto")  # re-entrant: a moto backend may call another in-process
# Calls that only read moto's state, taken side by side (a GetItem's miss made read-only below).
SHARED_READS = frozenset({"dynamodb.GetItem", "dynamodb.Query", "dynamodb.BatchGetItem"})
_COUNTS = ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
           "approximate_number_of_messages_not_visible")


def apply() -> None:
    """Install both adjustments (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.sqs import models

    models.camelcase_to_underscores = functools.lru_cache(maxsize=512)(models.camelcase_to_underscores)
    for name in _COUNTS:
        counted = getattr(models.Queue, name)

        def count(self: Any, _counted: Any = counted) -> int:
            return 0 if getattr(_sending, "active", False) else _counted.fget(self)

        setattr(models.Queue, name, property(count))

    for name in ("send_message", "send_message_batch", "receive_message"):
        original = getattr(models.SQSBackend, name)

        @functools.wraps(original)
        def sending(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            outer = getattr(_sending, "active", False)
            _sending.active = True
            try:
                return _original(self, *args, **kwargs)
            finally:
                _sending.active = outer

        setattr(models.SQSBackend, name, sending)

    dispatch = BotocoreStubber.__call__

    @functools.wraps(dispatch)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        # botocore's event name, before-send.<service>.<Operation>: a label for the benchmark, and
        # whether the call only reads
        event = str(kwargs.get("event_name") or (args[0] if args else ""))
        MOTO_LOCK.acquire(event, shared=event.partition(".")[2] in SHARED_READS)
        try:
            return dispatch(self, *args, **kwargs)
        finally:
            MOTO_LOCK.release()

    BotocoreStubber.__call__ = serialised  # type: ignore[method-assign]
    _query_one_partition()
    _string_comparisons()
    _applied = True


def _query_one_partition() -> None:
    from moto.dynamodb.models.table import Table

    every_item = Table.all_items
    query = Table.query

    def all_items(self: Any) -> Any:
        partition = getattr(_partition, "items", None)
        return every_item(self) if partition is None else partition

    @functools.wraps(query)
    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if not self.range_key_attr or (hash_key is None and not index_name):
            return query(self, hash_key, *args, **kwargs)
        if index_name:
            # moto keeps the items of the index's partition and sorts them by the index's keys
            # then the table's, a total order: the table's own sort of every item first is moot
            _partition.items = [item for held in self.items.values() for item in held.values()]
        else:
            held = self.items.get(hash_key)  # (.get: items is a defaultdict, [] would add the key)
            _partition.items = list(held.values()) if held else []  # moto keeps hash_key's, sorts them by range key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _partition.items = None

    get_item = Table.get_item

    @functools.wraps(get_item)
    def read_only_get_item(self: Any, hash_key: Any, range_key: Any = None, *args: Any, **kwargs: Any) -> Any:
        if range_key is not None and hash_key not in self.items:
            return None  # moto's self.items[hash_key] would add an empty partition: a write
        return get_item(self, hash_key, range_key, *args, **kwargs)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
    Table.get_item = read_only_get_item  # type: ignore[method-assign]


def _string_comparisons() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    def quick(compare: Any, strings: Any) -> Any:
        @functools.wraps(compare)
        def compared(self: Any, other: Any) -> Any:
            if self.type == "S" and type(other) is DynamoType and other.type == "S":
                return strings(self.value, other.value)  # what cast_value gives a string: itself
            return compare(self, other)
        return compared

    for name, strings in (("__lt__", operator.lt), ("__le__", operator.le), ("__gt__", operator.gt),
                          ("__ge__", operator.ge), ("__eq__", operator.eq), ("__ne__", operator.ne)):
        setattr(DynamoType, name, quick(getattr(DynamoType, name), strings))

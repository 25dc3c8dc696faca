"""The DynamoDB items relayflow stores, as PynamoDB models: one table, keyed by execution
(``EXEC#<id>``) or workflow (``WF#<name>``); ``adapters.dynamodb`` describes the layout."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

__all__ = ["StateItem", "exec_pk", "make_model", "run_sk", "unit_sk"]


class _Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Due(GlobalSecondaryIndex):
    """Unfinished heads with a deadline, by the deadline's bucket: what the reconciler reads.

    Sparse (only such heads carry ``due_pk``) and keys only: a head rewritten with the same
    bucket changes no key or projected attribute of it, which costs the index no write."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    due_pk = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class StateItem(Model):
    """The attributes of every item; ``make_model`` binds them to a table."""

    class Meta:
        table_name = "unbound"  # never used: make_model's subclass names the table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    d = UnicodeAttribute(null=True)
    v = NumberAttribute(null=True)
    p = UnicodeAttribute(null=True)
    pv = NumberAttribute(null=True)
    s = UnicodeAttribute(null=True)  # token of the step that wrote it
    status = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    due_pk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    gsi1 = _Gsi1()
    due = _Due()


def make_model(table: str, region: str, host: str | None = None) -> type[StateItem]:
    """The item class for ``table``; PynamoDB binds table names at class creation."""
    meta = type("Meta", (), {"table_name": table, "region": region, "host": host,
                             "billing_mode": "PAY_PER_REQUEST"})

    class Item(StateItem):
        Meta = meta  # type: ignore[assignment]  # PynamoDB reads Meta as a plain class
        gsi1 = _Gsi1()  # an index binds to the class that declares it, so each table's class declares its own
        due = _Due()

    return Item


def exec_pk(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def run_sk(task: str, run: int) -> str:
    return f"RUN#{task}#{run:06d}"


def unit_sk(task: str, run: int, index: int) -> str:
    return f"UNIT#{task}#{run:06d}#{index:07d}"

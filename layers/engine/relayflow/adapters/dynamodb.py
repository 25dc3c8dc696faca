"""State and workflow definitions in one DynamoDB table, through PynamoDB.

Layout (pk / sk):
  EXEC#<id> / HEAD                     the execution head (status, counters, version; dynamodb_due)
  EXEC#<id> / TASK#<task>              run counter and join arrivals of one task
  EXEC#<id> / RUN#<task>#<run>         one task run
  EXEC#<id> / UNIT#<task>#<run>#<i>    one with_items item or parallel sub-task
  EXEC#<id> / VAR#<name>               one workflow variable
  WF#<name> / V#<version>, LATEST      workflow definitions, versioned

A step writes its records first and the head last, with a condition on the
head's version: the head is the commit point. Each record carries the version
it was written for (``v``) and what it held before (``p``/``pv``); a reader
whose head is older than ``v`` is looking at a step that crashed before its
commit, and sees the prior value instead. Steps of one execution are
serialised by its FIFO message group, so the only uncommitted records a
reader can meet are those of a crashed attempt of the very step it is redoing.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from ..core.errors import ConflictError
from ..core.records import WORKFLOW_FINAL, Execution, TaskRun, TaskState, Unit, compact, history, run_from_dict
from ..core.session import Changes
from ..ports import DuePage
from .dynamodb_due import due_keys, list_due
from .dynamodb_items import StateItem, exec_pk, run_sk, unit_sk
from .payloads import PayloadStore

ITEM_PART_LIMIT = 150_000  # bytes of JSON kept inline per attribute; larger goes to S3
DAY = 86_400
STEP_SK = "STEP"  # the intent of the step committing (or last committed)
# How long a step may hold its intent before another token may take it over: longer than the
# advance function may run (Lambda has killed it by then).
STEP_LEASE = 900.0


class DynamoStore:
    def __init__(self, model: type[StateItem], payloads: PayloadStore, clock: Callable[[], float],
                 retention_days: int = 30, step_lease: float = STEP_LEASE):
        self.model = model
        self.step_lease = step_lease
        self.payloads = payloads
        self.clock = clock
        self.retention = retention_days * DAY
        self._head_version: dict[str, int] = {}

    # -- encoding ------------------------------------------------------------------
    def _expiry(self, finished_at: float | None = None) -> dt.datetime:
        at = self.clock() if finished_at is None else finished_at
        return dt.datetime.fromtimestamp(int(at) + self.retention, tz=dt.UTC)

    def _dump(self, document: Any, execution_id: str) -> str:
        return self.payloads.dump(document, ITEM_PART_LIMIT, execution_id)

    def _visible(self, item: Any, execution_id: str) -> Any:
        """The committed data of ``item``, or None when it does not exist as of the head."""
        head = self._head_version.get(execution_id)
        if head is None:
            self.get_execution(execution_id)
            head = self._head_version.get(execution_id, 0)
        if item.v is None or item.v <= head:
            return self.payloads.load(item.d)
        if item.pv is not None and item.pv >= 0 and item.p is not None:
            return self.payloads.load(item.p)
        return None

    def _detail(self, execution_id: str, sk: str, data: Any, prior: Any, version: int, token: str) -> Any:
        # No expiry while the execution runs: its records expire together, after it finishes
        # (``sweep``; the step that ends it writes its own records with that expiry), however
        # long it waits.
        item = self.model(exec_pk(execution_id), sk, d=self._dump(data, execution_id), v=version, s=token)
        if prior is None:
            item.pv = -1
        else:
            item.p = self._dump(prior, execution_id)
            item.pv = version - 1
        return item

    def _head_item(self, execution: Execution) -> Any:
        item = self.model(exec_pk(execution.id), "HEAD", d=self._dump(compact(execution), execution.id),
                          v=execution.version, status=execution.status)
        if execution.final:
            item.expires_at = self._expiry(execution.finished_at)
        else:
            item.due_pk, item.due_sk = due_keys(execution)
        return item

    def _write_index(self, execution: Execution) -> None:
        """The execution's entry in gsi1 (by workflow, newest first). It is its own small item,
        rewritten only when the status changes, so the head's many writes are not indexed."""
        summary = {k: v for k, v in execution.to_dict().items() if k not in ("outbox", "last_messages")}
        item = self.model(exec_pk(execution.id), "IDX", d=self._dump(summary, execution.id),
                          status=execution.status, gsi1pk=f"WFX#{execution.workflow}",
                          gsi1sk=f"{execution.created_at:017.6f}#{execution.id}")
        if execution.final:
            item.expires_at = self._expiry(execution.finished_at)
        item.save()

    # -- reads -----------------------------------------------------------------------
    def _get(self, execution_id: str, sk: str) -> Any:
        try:
            return self.model.get(exec_pk(execution_id), sk, consistent_read=True)
        except DoesNotExist:
            return None

    def create_execution(self, execution: Execution) -> bool:
        try:
            self._head_item(execution).save(condition=self.model.pk.does_not_exist())
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        self._head_version[execution.id] = execution.version
        self._write_index(execution)
        return True

    def get_execution(self, execution_id: str) -> Execution | None:
        item = self._get(execution_id, "HEAD")
        if item is None:
            return None
        data = self.payloads.load(item.d)
        head = Execution(**data)
        self._head_version[execution_id] = head.version
        return head

    def get_task_state(self, execution_id: str, task: str, joins: bool = True) -> TaskState | None:
        # Only a join keeps a TASK# record (see commit): for any other task, skip its read.
        item = self._get(execution_id, f"TASK#{task}") if joins else None
        data = self._visible(item, execution_id) if item is not None else None
        if data is not None:
            return TaskState(**data)
        # Tasks without join arrivals keep no record of their own: their run counter is
        # the number of their newest run, one query away (a read is a fifth of a write).
        # A page of one: a Query without Limit reads (and is billed for) up to 1 MB of the
        # task's runs, so a loop's thousandth pass would read its 999 runs before it.
        for item in self.model.query(exec_pk(execution_id), self.model.sk.startswith(f"RUN#{task}#"),
                                     consistent_read=True, scan_index_forward=False, page_size=1):
            if self._visible(item, execution_id) is not None:
                return TaskState(task, runs=int(item.sk.rsplit("#", 1)[1]))
        return None

    def get_run(self, execution_id: str, task: str, run: int) -> TaskRun | None:
        item = self._get(execution_id, run_sk(task, run))
        data = self._visible(item, execution_id) if item is not None else None
        return run_from_dict(data) if data is not None else None

    def get_unit(self, execution_id: str, task: str, run: int, index: int) -> Unit | None:
        item = self._get(execution_id, unit_sk(task, run, index))
        data = self._visible(item, execution_id) if item is not None else None
        return Unit(**data) if data is not None else None

    def _query(self, execution_id: str, prefix: str) -> list[Any]:
        out = []
        for item in self.model.query(exec_pk(execution_id), self.model.sk.startswith(prefix),
                                     consistent_read=True):
            data = self._visible(item, execution_id)
            if data is not None:
                out.append((item.sk, data))
        return out

    def list_units(self, execution_id: str, task: str, run: int) -> list[Unit]:
        return [Unit(**d) for _, d in self._query(execution_id, f"UNIT#{task}#{run:06d}#")]

    def get_var(self, execution_id: str, name: str) -> tuple[bool, Any]:
        item = self._get(execution_id, f"VAR#{name}")
        data = self._visible(item, execution_id) if item is not None else None
        return (True, data["value"]) if data is not None else (False, None)

    def list_vars(self, execution_id: str) -> dict[str, Any]:
        return {sk[4:]: d["value"] for sk, d in self._query(execution_id, "VAR#")}

    def has_arrival(self, execution_id: str, task: str, source: str) -> bool:
        item = self._get(execution_id, f"ARR#{task}#{source}")
        return item is not None and self._visible(item, execution_id) is not None

    def list_arrivals(self, execution_id: str, task: str) -> list[str]:
        return [d["source"] for _, d in self._query(execution_id, f"ARR#{task}#")]

    def list_runs(self, execution_id: str) -> list[TaskRun]:
        runs = [run_from_dict(d) for _, d in self._query(execution_id, "RUN#")]
        return sorted(runs, key=lambda r: r.seq)

    # -- the commit ----------------------------------------------------------------------
    def commit(self, changes: Changes) -> None:
        head = changes.execution
        eid, version, priors = head.id, head.version, changes.priors
        items = []
        for state in changes.task_states:
            if not state.arrivals and not state.join_done and priors.get(("s", state.task)) is None:
                continue  # a run counter only: derived from the runs (see get_task_state)
            prior = priors.get(("s", state.task))
            items.append(self._detail(eid, f"TASK#{state.task}", compact(state),
                                      compact(prior) if prior else None, version, changes.token))
        for run in changes.runs:
            prior = priors.get(("r", run.task, run.run))
            items.append(self._detail(eid, run_sk(run.task, run.run), compact(run),
                                      compact(prior) if prior else None, version, changes.token))
        for task, run_no, unit in changes.units:
            prior = priors.get(("u", task, run_no, unit.index))
            items.append(self._detail(eid, unit_sk(task, run_no, unit.index), compact(unit),
                                      compact(prior) if prior else None, version, changes.token))
        for task, source in changes.arrivals:
            items.append(self._detail(eid, f"ARR#{task}#{source}", {"source": source}, None, version, changes.token))
        for name, value in changes.vars.items():
            found, prior_value = priors.get(("v", name), (False, None))
            items.append(self._detail(eid, f"VAR#{name}", {"value": value},
                                      {"value": prior_value} if found else None, version, changes.token))
        if head.final:  # written with the expiry the sweep would give them: it skips them
            expires = self._expiry(head.finished_at)
            for item in items:
                item.expires_at = expires
        # what a record put back holds: the expiry of the execution as committed (none while it runs)
        restore = self._expiry(head.finished_at) if changes.prior_status in WORKFLOW_FINAL else None
        # The intent first: it names every key this step will write, so whoever redoes the step
        # after this process dies (in whatever batch SQS brings back) can put them back.
        self._claim_step(eid, version, changes.token, [item.sk for item in items],
                         self._expiry(head.finished_at) if head.final else None, restore)
        # Each record is written only over a committed older version or this step's own
        # attempt: a concurrent step that started from the same head conflicts here,
        # before the head, instead of overwriting what the winner wrote.
        model = self.model
        guard = model.v.does_not_exist() | (model.v < version) | (model.s == changes.token)
        # New with_items units are keys nobody else can be writing (their run record is
        # written conditionally first): they go in batches. Everything else is conditional.
        bulk = [item for item in items if item.pv == -1 and item.sk.startswith("UNIT#")]
        single = [item for item in items if not (item.pv == -1 and item.sk.startswith("UNIT#"))]
        written: list[Any] = []
        try:
            for item in single:
                try:
                    item.save(condition=guard)
                except PutError as exc:
                    if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                        raise ConflictError(f"execution {eid}: {item.sk} written by a concurrent step") from None
                    raise
                written.append(item)
            if bulk:
                with model.batch_write() as batch:
                    for item in bulk:
                        written.append(item)
                        batch.save(item)
            try:
                self._head_item(head).save(condition=model.v == changes.expected_version)
            except PutError as exc:
                if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                    raise ConflictError(f"execution {eid} changed since it was read") from None
                raise
        except Exception:
            self._undo(written, version, changes.token, restore)
            raise
        self._head_version[eid] = version
        if head.status != changes.prior_status:
            self._write_index(head)

    # -- the step intent -------------------------------------------------------------------
    def _client(self) -> Any:
        return self.model._get_connection().connection.client

    def _intent(self, execution_id: str, version: int, token: str, keys: list[str],
                expires: dt.datetime | None = None) -> dict[str, Any]:
        item = {"pk": {"S": exec_pk(execution_id)}, "sk": {"S": STEP_SK}, "v": {"N": str(version)},
                "s": {"S": token}, "at": {"N": repr(float(self.clock()))},
                "d": {"S": self._dump(sorted(set(keys)), execution_id)}}
        if expires is not None:  # a step of a finished execution (a late message)
            item["expires_at"] = {"N": str(int(expires.timestamp()))}
        return item

    def _claim_step(self, execution_id: str, version: int, token: str, keys: list[str],
                    expires: dt.datetime | None = None, restore: dt.datetime | None = None) -> None:
        """Write the step's intent (``EXEC#<id> / STEP``: its version, token and keys).

        One conditional put, the intent of the committed step before it (``v`` below this
        version) being the only thing it replaces. An intent at this very version is an
        attempt that never committed: its own earlier attempt (same token: the group's oldest
        message, which FIFO hands back first) or one whose lease ran out (Lambda killed it),
        is taken over: the new intent names the old keys too, then those records are put
        back; any other is a concurrent step, and this one conflicts.
        """
        client, table = self._client(), self.model.Meta.table_name
        try:
            client.put_item(TableName=table, Item=self._intent(execution_id, version, token, keys, expires),
                            ConditionExpression="attribute_not_exists(v) OR v < :v",
                            ExpressionAttributeValues={":v": {"N": str(version)}},
                            ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = exc.response.get("Item")
        if old is None:  # pragma: no cover - AWS returns the item it checked
            raise ConflictError(f"execution {execution_id}: step intent changed")
        old_version, old_token = int(old["v"]["N"]), old["s"]["S"]
        stale = float(old.get("at", {"N": "0"})["N"]) + self.step_lease < self.clock()
        if old_version != version or (old_token != token and not stale):
            raise ConflictError(f"execution {execution_id}: another step is committing version {version}")
        old_keys = self.payloads.load(old["d"]["S"]) if "d" in old else []
        try:
            client.put_item(TableName=table, Item=self._intent(execution_id, version, token, keys + old_keys,
                                                                expires),
                            ConditionExpression="v = :v AND s = :s",
                            ExpressionAttributeValues={":v": {"N": str(version)}, ":s": {"S": old_token}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConflictError(f"execution {execution_id}: step intent taken over") from None
            raise
        self._put_back(execution_id, version, old_keys, restore)

    def _put_back(self, execution_id: str, version: int, keys: list[str],
                  restore: dt.datetime | None = None) -> None:
        """Restore each record an uncommitted attempt at ``version`` wrote to what it held before."""
        model = self.model
        for sk in keys:
            item = self._get(execution_id, sk)
            if item is None or item.v != version:
                continue
            try:
                if item.pv is None or item.pv < 0 or item.p is None:
                    item.delete(condition=model.v == version)
                else:
                    model(item.pk, item.sk, d=item.p, v=item.pv, expires_at=restore).save(
                        condition=model.v == version)
            except (PutError, DeleteError) as exc:
                if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                    raise

    def _undo(self, written: list[Any], version: int, token: str, restore: dt.datetime | None = None) -> None:
        """Put back what a step that did not commit wrote, so no other step can ever read it
        as committed. Best effort: a process that dies here leaves records that only a redo of
        the same step (same token) overwrites."""
        model = self.model
        mine = (model.v == version) & (model.s == token)
        for item in reversed(written):
            try:
                if item.pv == -1:
                    item.delete(condition=mine)
                else:
                    model(item.pk, item.sk, d=item.p, v=item.pv, expires_at=restore).save(condition=mine)
            except Exception:  # already put back, overwritten by the winner, or the store is down
                continue

    def clear_deadline(self, execution_id: str, deadline: float) -> bool:
        """Rewrite the head without its deadline, on condition that its version is the one read
        (keeping it: no step's records change meaning)."""
        head = self.get_execution(execution_id)
        if head is None or head.final or head.deadline != deadline:
            return False
        head.deadline = None
        return self._rewrite_head(head)

    def _rewrite_head(self, head: Execution) -> bool:
        """Put ``head`` back at the version it was read with; False when a step committed meanwhile."""
        try:
            self._head_item(head).save(condition=self.model.v == head.version)
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_failed(self, execution_id: str, error: dict[str, Any]) -> bool:
        """Fail an execution outside the conductor (a poison message); keeps the version so
        records of a crashed step stay invisible. False when it had already ended."""
        head = self.get_execution(execution_id)
        if head is None or head.final:
            return False
        head.status, head.error, head.finished_at, head.ending = "failed", error, self.clock(), None
        if not self._rewrite_head(head):
            return False
        self._write_index(head)
        return True

    def sweep(self, execution_id: str, after: str | None, page: int = 100) -> str | None:
        """Give one page of the execution's records the head's expiry: ``finished_at`` plus the
        retention once it has finished, none while it runs (a redrive revived it). The head
        and its index entry carry theirs already; a page is idempotent, so a redelivered
        sweep message just does it again."""
        head = self.get_execution(execution_id)
        if head is None:
            return None
        model = self.model
        expires = self._expiry(head.finished_at) if head.final else None
        action = model.expires_at.set(expires) if expires is not None else model.expires_at.remove()
        last, seen = None, 0
        for item in model.query(exec_pk(execution_id), model.sk > after if after else None,
                                consistent_read=True, limit=page):
            last, seen = item.sk, seen + 1
            if item.sk in ("HEAD", "IDX") or item.expires_at == expires or (
                    item.sk.startswith("CLAIM#") and item.expires_at is not None):  # expires by itself
                continue
            try:
                item.update(actions=[action], condition=model.pk.exists())
            except UpdateError as exc:  # put back (deleted) since the query read it
                if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                    raise
        return last if seen >= page else None

    def list_due(self, until: float | None = None, limit: int = 100, after: str | None = None) -> DuePage:
        return list_due(self.model, until, limit, after)

    def get_mark(self, name: str) -> str | None:
        """``MARK#<name> / MARK``: a value a scheduled job keeps between runs."""
        try:
            item = self.model.get(f"MARK#{name}", "MARK", consistent_read=True)
        except DoesNotExist:
            return None
        return item.d or None

    def put_mark(self, name: str, value: str | None) -> None:
        # an empty value clears it: the job's role may put its own item, not delete (least privilege)
        self.model(f"MARK#{name}", "MARK", d=value or "").save()

    def claim_attempt(self, execution_id: str, attempt_key: str, owner: str, expire: bool = False) -> bool:
        """``EXEC#<id> / CLAIM#<attempt key>``, put only if absent or already ``owner``'s.

        With ``expire`` the claim carries its own expiry, the retention after now, and the
        sweep leaves it alone (one write less per attempt): a claim matters only while its
        attempt is current, and an attempt that waits for nothing ends within its message's
        deliveries (minutes), long before that."""
        item = self.model(exec_pk(execution_id), f"CLAIM#{attempt_key}", d=owner)
        if expire:
            item.expires_at = self._expiry()
        try:
            item.save(condition=self.model.d.does_not_exist() | (self.model.d == owner))
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_history(self, execution_id: str) -> list[dict[str, Any]]:
        head = self.get_execution(execution_id)
        return history(head, self.list_runs(execution_id)) if head else []

    # -- inquiries (core.ask) --------------------------------------------------------------
    def _inquiry_item(self, inquiry: dict[str, Any]) -> Any:
        return self.model(f"INQ#{inquiry['id']}", "INQ", d=self._dump(inquiry, "inquiries"),
                          status=inquiry["status"], gsi1pk=f"INQ#{inquiry['status']}",
                          gsi1sk=f"{inquiry['created_at']:017.6f}#{inquiry['id']}",
                          expires_at=None if inquiry["status"] == "pending" else self._expiry())

    def put_inquiry(self, inquiry: dict[str, Any]) -> None:
        self._inquiry_item(inquiry).save()

    def get_inquiry(self, inquiry_id: str) -> dict[str, Any] | None:
        try:
            item = self.model.get(f"INQ#{inquiry_id}", "INQ", consistent_read=True)
        except DoesNotExist:
            return None
        return self.payloads.load(item.d)

    def list_inquiries(self, status: str | None = None) -> list[dict[str, Any]]:
        statuses = [status] if status else ["pending", "answered", "timed_out", "cancelled", "failed"]
        out = []
        for st in statuses:
            out += [self.payloads.load(item.d) for item in self.model.gsi1.query(f"INQ#{st}")]
        return sorted(out, key=lambda i: i["created_at"])

    def _move_inquiry(self, inquiry_id: str, **changes: Any) -> bool:
        inquiry = self.get_inquiry(inquiry_id)
        if inquiry is None or inquiry["status"] != "pending":
            return False
        inquiry.update(changes)
        try:
            self._inquiry_item(inquiry).save(condition=self.model.status == "pending")
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def answer_inquiry(self, inquiry_id: str, response: Any, at: float, by: str | None = None) -> bool:
        return self._move_inquiry(inquiry_id, status="answered", response=response, answered_at=at,
                                  answered_by=by)

    def close_inquiry(self, inquiry_id: str, status: str) -> None:
        self._move_inquiry(inquiry_id, status=status)

    def query_executions(self, workflow: str, status: str | None = None, limit: int = 50,
                         before: str | None = None) -> tuple[list[Execution], str | None]:
        """A page of ``workflow``'s executions (gsi1, newest first), optionally of one ``status``.

        ``before`` is the cursor (a gsi1sk) a previous page returned; the second value is the
        cursor of the next page, None after the last.
        """
        model = self.model
        items = list(model.gsi1.query(
            f"WFX#{workflow}", range_key_condition=model.gsi1sk < before if before else None,
            filter_condition=model.status == status if status else None,
            scan_index_forward=False, limit=limit + 1))
        page = items[:limit]
        return ([Execution(**self.payloads.load(item.d)) for item in page],
                page[-1].gsi1sk if len(items) > limit else None)

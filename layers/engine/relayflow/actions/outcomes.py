"""The worker's outcomes, held briefly to leave together in one SendMessageBatch.

One SQS request for up to ten outcomes instead of ten. An outcome leaves as soon as an
action runs HOLD_S or longer or the actions run since the oldest held one add up to
MAX_WAIT_S, and always before the invocation returns: the invocation's dispatches are deleted only after that,
so a crash before the send loses nothing (the batch comes back and runs again, as after
a crash between an action and its send).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from .. import usage
from ..core.messages import AttemptFinished

HOLD_S = 0.1  # an action this slow sends what is held at once
# no outcome waits for more than this much of other actions' time. The actions' time, not
# the wall clock: each dispatch also reads and claims its attempt (three requests, tens of
# ms on AWS, at most ten dispatches a batch); counting those split a batch of quick
# outcomes whenever DynamoDB (or the machine) was slow, and cost a request per split.
MAX_WAIT_S = 1.0

log = logging.getLogger(__name__)


class HeldOutcomes:
    def __init__(self, send_all: Callable[[list[AttemptFinished]], None]) -> None:
        self.send_all = send_all
        self.pending: list[AttemptFinished] = []
        self.waited = 0.0  # seconds of actions run since the oldest held outcome
        self.share = 1.0  # of the invocation, its receive and its delete, per record

    def start(self, records: int) -> None:
        """A new invocation of ``records`` dispatches: what a failed earlier one left behind never leaves."""
        self.pending = []
        self.share = 1 / max(1, records)

    def add(self, outcome: AttemptFinished, action_s: float) -> None:
        self.waited = action_s if not self.pending else self.waited + action_s
        outcome.usage = dict(outcome.usage or {})  # the requests made for it, for its execution's cost report
        usage.add_invocation(outcome.usage, self.share)
        self.pending.append(outcome)
        if action_s >= HOLD_S or self.waited >= MAX_WAIT_S:
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - not this record's failure: they stay held,
                # and the invocation's last flush sends them again or fails the whole batch
                log.warning("outcomes not sent yet (%d held): %s", len(self.pending), exc)

    def flush(self) -> None:
        """Send every held outcome; raises if SQS refuses (a re-send is safe: deduplication ids)."""
        if self.pending:
            for outcome in self.pending:
                if outcome.usage is not None:  # always, since ``add`` set it
                    usage.add(outcome.usage, "q", 1 / min(len(self.pending), 10))
            self.send_all(self.pending)
            self.pending = []

"""What the embedded stack creates: a mirror of template.yaml's resources.

``tests/infra`` checks that these queues, batch sizes, visibility timeouts and
handler routes match the template, so the local stack cannot drift from a
deployment.
"""
from __future__ import annotations

from dataclasses import dataclass

STACK = "relayflow-local"
REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_RECEIVE_COUNT = 5
FUNCTION_TIMEOUT = 30  # seconds: Globals.Function.Timeout


@dataclass(frozen=True)
class QueueSpec:
    key: str
    name: str
    fifo: bool
    visibility_timeout: int
    dlq_name: str
    content_dedup: bool = False


@dataclass(frozen=True)
class Route:
    """An SQS event source mapping: which handler consumes which queue, in batches of how many."""

    queue: str
    handler: str  # module:function
    batch_size: int
    batching_window: int = 0  # MaximumBatchingWindowInSeconds


QUEUES = (
    QueueSpec("task", f"{STACK}-tasks.fifo", True, 180, f"{STACK}-tasks-dlq.fifo"),
    # Content-based deduplication: the Scheduler delivers timers with no deduplication id.
    QueueSpec("event", f"{STACK}-events.fifo", True, 180, f"{STACK}-events-dlq.fifo", content_dedup=True),
)
ROUTES = (
    Route("task", "functions.worker.app:handler", 10),
    Route("event", "functions.advance.app:handler", 10),
)
START_HANDLER = "functions.start.app:handler"
RECONCILE_HANDLER = "functions.reconcile.app:handler"  # ReconcileFunction, on its schedule
TABLE = f"{STACK}-state"
BUCKET = f"{STACK}-payloads"
EVENT_BUS = f"{STACK}-bus"
SCHEDULE_GROUP = f"{STACK}-timers"
SCHEDULER_ROLE = f"{STACK}-scheduler"
TIMER_DLQ = f"{STACK}-timers-dlq"  # standard: the Scheduler takes no FIFO dead-letter queue

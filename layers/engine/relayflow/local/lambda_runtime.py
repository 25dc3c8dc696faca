"""Lambda's side of an invocation, as the embedded stack plays it: a function instance
that runs one invocation at a time and is cut off at its timeout.

Lambda stops a handler that runs past its function's ``Timeout``: no ``except`` or
``finally`` runs, what it did so far stays done, nothing after happens. Python cannot
kill a thread, so an instance runs its handler on a thread of its own and the pump
waits at most the timeout; a handler still running then is abandoned (a new instance
serves the next invocation, as after a cold start), and the contract's guard refuses
every AWS call the abandoned thread makes from then on, so none of its later effects
reach the stack. The guard raises :class:`FunctionTimedOut`, a BaseException, which no
``except Exception`` in the handler can swallow.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import resources as R


class FunctionTimedOut(BaseException):
    """An AWS call from a handler Lambda has already stopped."""


class LambdaContext:
    """Enough of Lambda's context object for Powertools, with the real remaining time."""

    def __init__(self, name: str, timeout: float = R.FUNCTION_TIMEOUT):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:{R.REGION}:{R.ACCOUNT}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Instance:
    def __init__(self) -> None:
        self.jobs: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="lambda-instance")
        self.thread.start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, args, done = job
            try:
                done["result"] = fn(*args)
            except BaseException as exc:  # handed to the pump, which decides
                done["error"] = exc
            done["event"].set()


class Invoker:
    """Invokes handlers with Lambda's timeout; ``timed_out`` counts the cut-offs."""

    def __init__(self, timeout: float = R.FUNCTION_TIMEOUT):
        self.timeout = timeout
        self._instances: dict[str, _Instance] = {}
        self._stopped: set[threading.Thread] = set()
        self.timed_out = 0

    def guard(self, service: str, operation: str) -> None:
        """Called before every AWS call (the contract's guard)."""
        if threading.current_thread() in self._stopped:
            raise FunctionTimedOut(f"{service}.{operation} after the function timed out")

    def invoke(self, name: str, handler: Callable[[Any, Any], Any], event: Any) -> Any:
        """The handler's result; raises FunctionTimedOut when it ran past the timeout, and
        whatever the handler raised otherwise."""
        instance = self._instances.get(name)
        if instance is None:
            instance = self._instances[name] = _Instance()
        done: dict[str, Any] = {"event": threading.Event()}
        instance.jobs.put((handler, (event, LambdaContext(name, self.timeout)), done))
        if not done["event"].wait(self.timeout):
            self._stopped.add(instance.thread)
            del self._instances[name]
            instance.jobs.put(None)
            self.timed_out += 1
            raise FunctionTimedOut(f"{name} ran past its {self.timeout:g} s timeout")
        if "error" in done:
            raise done["error"]
        return done["result"]

    def close(self) -> None:
        for instance in self._instances.values():
            instance.jobs.put(None)
        self._instances.clear()

"""Actions of examples/etl.yaml: plain functions a ``python:<module>:<function>`` task calls.

They simulate a storage bucket so the example runs anywhere; a real ETL would read
from S3 here. An action is called with its rendered input (and ``context`` if it
takes one: the attempt number and an idempotency key for side effects).
"""
from __future__ import annotations

from typing import Any


def list_files(payload: dict[str, Any]) -> dict[str, Any]:
    """The CSV files among ``payload["files"]`` (a real action would list the bucket)."""
    files = [f for f in payload.get("files", []) if f.endswith(".csv")]
    return {"bucket": payload["bucket"], "files": sorted(files)}


def load_file(payload: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Load one file: return the rows it held. Files named "*-flaky*" fail their first attempt,
    as a throttled read would, to show the retry."""
    path = payload["path"]
    attempt = getattr(context, "attempt", 1)
    if "flaky" in path and attempt == 1:
        raise ConnectionError(f"read of {path} timed out")
    name = path.rsplit("/", 1)[-1]
    return {"path": path, "rows": 100 * len(name.split("-")) + len(name), "attempt": attempt}

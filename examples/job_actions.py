"""Actions of examples/poll_job.yaml: a pretend export service.

``submit`` starts an export; ``status`` reports it ``running`` until the poll
number reaches ``ready_after``, then ``done`` (or ``failed`` for a job id that
ends in "-bad"). A real action would call the service's API here.
"""
from __future__ import annotations

from typing import Any


def submit(payload: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": payload["job_id"], "state": "running"}


def status(payload: dict[str, Any]) -> dict[str, Any]:
    job_id, poll = payload["job_id"], int(payload["poll"])
    if job_id.endswith("-bad") and poll >= 2:
        return {"job_id": job_id, "state": "failed", "reason": "export ran out of memory"}
    if poll >= int(payload.get("ready_after", 3)):
        return {"job_id": job_id, "state": "done", "url": f"s3://exports/{job_id}.parquet"}
    return {"job_id": job_id, "state": "running", "progress": round(poll / int(payload.get("ready_after", 3)), 2)}

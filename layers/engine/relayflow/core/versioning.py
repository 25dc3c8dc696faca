"""A workflow definition's version: a hash of its text, so equal files share one."""
from __future__ import annotations

import hashlib

from .spec import WorkflowSpec


def spec_version(spec: WorkflowSpec) -> str:
    return hashlib.sha256(spec.text.encode("utf-8")).hexdigest()[:16]

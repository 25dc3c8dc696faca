"""Workflow definitions in the DynamoDB table, kept as their YAML text by content version."""
from __future__ import annotations

import json

from pynamodb.exceptions import DoesNotExist, PutError

from ..core.loader import load_text
from ..core.spec import WorkflowSpec
from ..core.versioning import spec_version
from ..errors import UnknownWorkflowError
from .dynamodb import ITEM_PART_LIMIT
from .dynamodb_items import StateItem
from .payloads import PayloadStore

__all__ = ["DynamoWorkflows"]


class DynamoWorkflows:
    """Workflow definitions, kept as their YAML text by content version."""

    def __init__(self, model: type[StateItem], payloads: PayloadStore):
        self.model = model
        self.payloads = payloads
        self._cache: dict[tuple[str, str], WorkflowSpec] = {}

    def register(self, spec: WorkflowSpec) -> str:
        version = spec_version(spec)
        text = self.payloads.dump({"text": spec.text, "source": spec.source}, ITEM_PART_LIMIT, "workflows")
        try:
            self.model(f"WF#{spec.name}", f"V#{version}", d=text,
                       gsi1pk="WF", gsi1sk=spec.name).save(condition=self.model.pk.does_not_exist())
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
        self.model(f"WF#{spec.name}", "LATEST", d=json.dumps({"version": version})).save()
        self._cache[(spec.name, version)] = spec
        return version

    def get(self, name: str, version: str | None = None) -> WorkflowSpec:
        if version is None:
            try:
                latest = self.model.get(f"WF#{name}", "LATEST", consistent_read=True)
            except DoesNotExist:
                raise UnknownWorkflowError(name) from None
            version = json.loads(latest.d)["version"]
        key = (name, version)
        spec = self._cache.get(key)
        if spec is None:
            try:
                item = self.model.get(f"WF#{name}", f"V#{version}")
            except DoesNotExist:
                raise UnknownWorkflowError(name, version) from None
            data = self.payloads.load(item.d)
            spec = self._cache[key] = load_text(data["text"], data.get("source", name))
        return spec

    def versions(self, name: str) -> list[str]:
        return [item.sk[2:] for item in self.model.query(f"WF#{name}", self.model.sk.startswith("V#"))]

    def names(self) -> list[str]:
        """Every registered workflow name (gsi1: one entry per stored version)."""
        return sorted({item.gsi1sk for item in self.model.gsi1.query("WF")})

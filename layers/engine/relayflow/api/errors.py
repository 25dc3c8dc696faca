"""The API's errors: each is a request the API refuses, answered with its ``status`` and
``{type, message, details}``. All are permanent (``errors.PermanentError``): the same request
is refused again."""
from __future__ import annotations

from typing import Any

from ..errors import PermanentError


class ServiceError(PermanentError):
    """A request the API refuses; ``status`` and ``type`` are its HTTP answer."""

    status = 400
    type = "BadRequest"

    def __init__(self, message: str, details: Any = None):
        self.details = details
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "message": str(self)}
        if self.details is not None:
            out["details"] = self.details
        return out


class BadRequest(ServiceError):
    pass


class NotFound(ServiceError):
    status, type = 404, "NotFound"


class Conflict(ServiceError):
    status, type = 409, "Conflict"


class TooLarge(ServiceError):
    status, type = 413, "PayloadTooLarge"


class UnsupportedMediaType(ServiceError):
    status, type = 415, "UnsupportedMediaType"


class MethodNotAllowed(ServiceError):
    status, type = 405, "MethodNotAllowed"

"""Errors of the AWS adapters."""
from __future__ import annotations

from ..errors import PermanentError, RetryableError


class AdapterError(RetryableError):
    """An AWS call failed in a way the caller should retry (the message is redelivered)."""


class MalformedMessage(PermanentError):
    """A queue message that can never be processed: not JSON, unknown version or kind."""

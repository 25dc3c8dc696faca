"""Errors of the AWS adapters."""
from __future__ import annotations

from ..core.errors import RelayflowError


class AdapterError(RelayflowError):
    """An AWS call failed in a way the caller should retry (the message is redelivered)."""


class MalformedMessage(RelayflowError):
    """A queue message that can never be processed: not JSON, unknown version or kind."""

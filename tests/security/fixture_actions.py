"""A declared action module for the security tests: one real action and things that are not actions."""
from __future__ import annotations

import json  # noqa: F401 - a module attribute, not an action
from os import system  # noqa: F401 - imported, so not an action of this module
from typing import Any


def double(payload: Any) -> Any:
    return {"n": payload["n"] * 2}


def _private(payload: Any) -> Any:
    return "never"


class Helper:
    def __init__(self, payload: Any) -> None:
        self.payload = payload

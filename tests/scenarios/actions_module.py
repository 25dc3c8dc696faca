"""The python: actions the scenarios name (the one action module their stack declares)."""
from __future__ import annotations

import json
from os import getcwd  # noqa: F401 - imported, so not an action: a scenario proves it is refused
from typing import Any


def dumps(payload: Any) -> str:
    return json.dumps(payload)

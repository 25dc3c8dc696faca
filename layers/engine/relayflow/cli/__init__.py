"""The ``relayflow`` command: run, validate, draw and test workflows; serve the API and drive it.

``local`` holds the commands that work on this machine (run, validate, graph, test), ``remote``
those that serve the API or drive it, ``parser`` the command line itself.
"""
from __future__ import annotations

from ..summary import RESULT_KEYS, TASK_RUN_KEYS
from .common import EXIT_NOT_SUCCEEDED, EXIT_OK, EXIT_USAGE, UsageError
from .parser import build_parser, main

__all__ = ["EXIT_NOT_SUCCEEDED", "EXIT_OK", "EXIT_USAGE", "RESULT_KEYS", "TASK_RUN_KEYS", "UsageError", "build_parser",
           "main"]

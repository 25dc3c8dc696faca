"""What every command shares: exit codes, printing that survives a closed pipe, input, action
modules, the API client."""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..core.errors import Problem
from ..errors import PermanentError

EXIT_OK, EXIT_NOT_SUCCEEDED, EXIT_USAGE = 0, 1, 2

PROGRESS_READ_EVERY = 0.5  # seconds between reads of the running runs' item counts


class UsageError(PermanentError):
    """The command line asks for something that cannot be done; the CLI exits 2 with the message."""


def silence_stdout() -> None:
    """Send the rest of stdout to /dev/null: the reader went away (``relayflow run ... | head -1``)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def say(*parts: Any, file: Any = None, **kwargs: Any) -> None:
    """``print`` that survives a closed pipe: once stdout's reader is gone, output is dropped."""
    try:
        print(*parts, file=file if file is not None else sys.stdout, **kwargs)
    except BrokenPipeError:
        if file is not None and file is not sys.stdout:
            raise
        silence_stdout()


def print_problems(problems: list[Problem]) -> None:
    for p in problems:
        print(p, file=sys.stderr)


def read_input(raw: str | None) -> Any:
    if raw is None:
        return {}
    text, where = raw, "--input"
    if raw.startswith("@"):
        where = f"--input {raw}"
        try:
            with open(raw[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"{where}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{where}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from None


def action_modules(args: argparse.Namespace, folders: Sequence[str] = ()) -> Any:
    """The declared action modules: ``--action-module`` (repeatable), $RELAYFLOW_ACTION_MODULES,
    and the modules in ``folders`` (the workflow's own folder for run, validate and test)."""
    from ..actions.allowlist import ActionModules
    names = list(getattr(args, "action_module", None) or [])
    names += [n for n in os.environ.get("RELAYFLOW_ACTION_MODULES", "").replace(",", " ").split() if n]
    try:
        return ActionModules(names, folders)
    except ValueError as exc:
        raise UsageError(f"--action-module: {exc}") from None


def registry_for(args: argparse.Namespace, folders: Sequence[str] = ()) -> Any:
    from ..actions.builtin import default_registry
    return default_registry(action_modules(args, folders))


def refusals(spec: Any, registry: Any) -> list[Problem]:
    from .. import admission
    return admission.problems(spec, registry)


def add_action_module(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action-module", action="append", metavar="MODULE",
                        help="a Python module (or package) python: actions may name; repeatable "
                             "(modules beside the workflow count too, for run, validate and test)")




def client_for(args: argparse.Namespace) -> Any:
    from ..client import Client
    return Client(args.api, region=args.region)



def api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", help="the API's base URL (default: $RELAYFLOW_API or http://127.0.0.1:8080); "
                                      "requests to a non-loopback URL are signed with SigV4")
    parser.add_argument("--region", help="AWS region for signing (default: from the URL or the AWS config)")



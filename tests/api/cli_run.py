"""Running the ``relayflow`` command in-process, as the CLI tests of this package do."""
from __future__ import annotations

from typing import Any

from relayflow import cli


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """``relayflow ARGV...``: its exit code, standard output and standard error."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err

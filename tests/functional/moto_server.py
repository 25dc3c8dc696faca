"""A moto server on 127.0.0.1 for the process-death sweep: ``python -m tests.functional.moto_server``.

It runs in a process of its own, so the handlers killed in their child processes
never take AWS's state with them. It prints ``port N`` once it listens and serves
until its standard input closes (the parent exits or closes it), so it never
outlives the run that started it.

SQS FIFO deduplication is given AWS's five-minute window (``faults.fifo_dedup_window``):
the engine relies on it, and moto alone only compares with messages still queued.
"""
from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    # Moto's server answers with these credentials' account; nothing leaves the machine.
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    from moto.server import ThreadedMotoServer

    from tests.functional.faults import fifo_dedup_window

    with fifo_dedup_window():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        _, port = server.get_host_and_port()
        print(f"port {port}", flush=True)
        sys.stdin.read()  # until the parent goes away
        server.stop()


if __name__ == "__main__":
    main()

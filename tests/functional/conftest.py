"""Fixtures for the functional tests on the embedded stack (moto in-process)."""
from __future__ import annotations

import pytest

from . import faults


@pytest.fixture(scope="module")
def local():
    """One embedded stack per module, with AWS's five-minute FIFO deduplication window
    (see ``faults.fifo_dedup_window``) and the test workflows registered."""
    from relayflow.local.stack import EmbeddedStack

    with faults.fifo_dedup_window(), EmbeddedStack() as stack:
        faults.register_all(stack)
        yield stack

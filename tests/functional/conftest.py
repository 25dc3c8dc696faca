"""Fixtures for the functional tests on the embedded stack (moto in-process)."""
from __future__ import annotations

import pytest

from tests.infra.roles import Recorder, denied, translated_template

from . import faults


@pytest.fixture(scope="module")
def local():
    """One embedded stack per module (AWS's five-minute FIFO deduplication window on its
    virtual clock: ``relayflow.local.dedup_window``), the test workflows registered."""
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as stack:
        faults.register_all(stack)
        # every AWS call the handlers make here, crashes and redeliveries included, must be one
        # their deployed roles allow (tests/infra/roles.py)
        recorder = Recorder()
        recorder.attach(stack)
        yield stack
        refused, _ = denied(translated_template(), stack, recorder)
        assert not refused, "calls the deployed roles would refuse:\n  " + "\n  ".join(sorted(set(refused)))

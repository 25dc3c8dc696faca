"""Every handler survives being killed at any AWS call (README: "Every handler survives
a crash"), whatever batch SQS redelivers.

The harness (``kill.py``) runs the handler under test in a thread against moto
in-process and freezes it at its k-th AWS call, or just after the handler returned: no
``except`` or ``finally`` of it runs, nothing more it would send reaches moto, and what it
wrote stays written. One test runs a case per handler the literal way: every invocation
a forked child, SIGKILLed, against a moto server in a process of its own. Each case runs a shape to its end and must end as the
clean run of that shape did: the same executions, field by field and run by run, no
run recorded twice, nothing in a dead-letter queue, every API request answered, every
attempt's action run, and none run twice except by a worker that died after running it
and before sending its outcome (the README's at-least-once window).

Kill points are measured on clean runs and collapsed to the distinct ones: dying just
before a call that follows a read leaves what dying before that read leaves.

Cases that do not recover yet are predicted from the clean run (``kill.KNOWN_CAUSES``,
each with its reason) and run one by one as strict xfails, so a fix shows up as a
failure until its prediction is removed. There are none at present.

The module measures its clean runs at collection (which cases exist follows from them).
``RELAYFLOW_FAULTS`` picks the slice (``kill.plan``), or a part of one: ``full:3/10``
runs every 10th case of ``full`` from the 4th (``kill.parse_slice``); CI runs ``quick``
and one tenth of ``full`` a run (``full:P/10``), a different one each time, so 10 runs cover it all. ``quick``, the default and what CI
runs, kills at four distinct points per shape and handler, spread from the first to the
last, each redelivered in another variant (about 130 cases, a few minutes on two cores);
``wide`` kills at every distinct point of the ten-at-a-time run, redelivered alternately
the same and one at a time, and at every third point of the one-at-a-time run (merged)
and of the run shared with another execution (interleaved), about 700 cases; ``full``
kills at every distinct point of every variant, about 2,400.
"""
from __future__ import annotations

import atexit
import json
import os

import pytest

from . import kill

SLICE = os.environ.get("RELAYFLOW_FAULTS", "quick")
JOBS = min(2, os.cpu_count() or 1)

# the handlers each shape exercises (the start handler of an API-started shape only starts
# the execution that shares its batches)
PAIRS = [(shape, handler) for shape, s in kill.SHAPES.items()
         for handler in (("api", "advance", "worker", "start") if s.via_api else ("start", "advance", "worker"))]

# One server and one set of clean runs for the module, measured at collection: which cases
# exist, and which are known not to recover yet (``kill.known``), follow from the clean runs.
_server: kill.InProcessAWS | None = None
_sweep: kill.Sweep | None = None


def _measured() -> kill.Sweep:
    global _server, _sweep
    if _sweep is None:
        _server = kill.InProcessAWS()
        atexit.register(_server.close)
        try:
            _sweep = kill.Sweep()
            for shape in kill.SHAPES:
                for variant in ("same", "merged", "interleaved"):
                    _sweep.clean_run(shape, variant)
        finally:
            _server.deactivate()
    return _sweep


_slice_cases: list | None = None


def _cases(shape: str, handler: str) -> tuple[list, list]:
    """(cases expected to recover, (case, reason) of those known not to) of a shape and handler
    in this run's slice (a part of a slice may hold none of a pair's)."""
    global _slice_cases
    sweep = _measured()
    if _slice_cases is None:
        _slice_cases = kill.all_cases(sweep, SLICE)
    fine, known = [], []
    for case in _slice_cases:
        if case[:2] != (shape, handler):
            continue
        reason = kill.known(sweep.clean_run(shape, case[3]), handler, case[2], case[3])
        if reason is None:
            fine.append(case)
        else:
            known.append((case, reason))
    return fine, known


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "known_case" in metafunc.fixturenames:
        params = [pytest.param(case, id="-".join(map(str, case)), marks=pytest.mark.xfail(strict=True, reason=reason))
                  for shape, handler in PAIRS for case, reason in _cases(shape, handler)[1]]
        # none known: one case that checks it (an empty parametrisation would be reported skipped)
        metafunc.parametrize("known_case", params or [pytest.param(None, id="none")])


@pytest.fixture(scope="module")
def sweep():
    sweep = _measured()
    assert _server is not None
    _server.activate()
    try:
        yield sweep
    finally:
        _server.close()


EXPECTED = {
    "sequence": ("succeeded", {"x": 1, "y": 2, "z": 3}),
    "join": ("succeeded", {"sum": 111}),
    "items": ("succeeded", {"items": [1, 2, 3]}),
    "nested": ("succeeded", {"answer": 42}),
    "timeout": ("succeeded", {"was": "timed_out"}),
    "sleep": ("succeeded", {"slept": 3}),
    "wf_timeout": ("timed_out", None),
    "control": ("cancelled", None),
    "approval": ("succeeded", {"url": "s3://out/1", "ok": True}),
    "big": ("succeeded", {"n": kill.BIG, "tail": "bbb"}),
}


@pytest.mark.parametrize("shape", list(kill.SHAPES))
def test_clean_runs_end_as_their_workflows_say_in_every_batch_profile(sweep, shape):
    states = {}
    for variant in ("same", "merged", "interleaved"):
        clean = sweep.clean_run(shape, variant)
        assert clean.stuck is None and clean.problems == [], (variant, clean.stuck, clean.problems)
        assert all(len(runs) == 1 for runs in clean.runs.values()), clean.runs  # each attempt ran once
        states[variant] = clean.state[clean.main]
    result = json.loads(states["same"])
    assert (result["status"], result["output"]) == EXPECTED[shape]
    # one at a time or beside another execution, the execution ends the same
    assert states["merged"] == states["same"] and states["interleaved"] == states["same"]
    if shape == "control":
        assert [t["status"] for t in result["tasks"]] == ["cancelled"]  # paused, resumed, then cancelled


@pytest.mark.parametrize(("shape", "handler"), PAIRS, ids=[f"{s}-{h}" for s, h in PAIRS])
def test_a_kill_at_any_aws_call_ends_as_the_clean_run(sweep, shape, handler):
    cases, known = _cases(shape, handler)
    assert any(_measured().points(shape, handler, v) for v in kill.VARIANTS), \
        f"the {handler} handler makes no AWS call in {shape}"
    verdicts = kill.run_cases(sweep, cases, JOBS)
    bad = [v for v in verdicts if v.status != "recovered"]
    assert not bad, f"{len(bad)} of {len(verdicts)} cases did not recover:\n" + "\n".join(
        f"{v.status}: {v.case}: {v.detail}" for v in bad)


def test_a_handler_sigkilled_in_a_child_against_a_moto_server_recovers_too():
    """The literal fault: each invocation a forked child, SIGKILLed at its k-th AWS call, on a
    moto server in a process of its own (the sweep above freezes a thread in-process, which
    is much cheaper). One case per handler, at a write in the middle of its calls."""
    with kill.MotoServer():
        sweep = kill.Sweep()
        cases = []
        for shape, handler, variant in (("approval", "api", "same"), ("approval", "advance", "smaller"),
                                        ("approval", "worker", "same"), ("sequence", "start", "smaller")):
            points = sweep.points(shape, handler, variant)
            writes = [k for k in points if sweep.clean_run(shape, variant).points[handler][k - 1] not in kill.READS]
            cases.append((shape, handler, writes[len(writes) // 2], variant))
        verdicts = kill.run_cases(sweep, cases, 1)
    assert [v.status for v in verdicts] == ["recovered"] * len(cases), [(v.case, v.detail) for v in verdicts]
    assert all(v.case.split("/")[2].startswith("k=") for v in verdicts)


def test_known_divergence(sweep, known_case):
    """The cases ``kill.known`` predicts not to recover, one by one (strict: one that recovers fails)."""
    if known_case is None:
        assert all(not _cases(shape, handler)[1] for shape, handler in PAIRS)
        return
    verdict = sweep.case(*known_case)
    assert verdict.status == "recovered", verdict.detail


# -- the judge itself ---------------------------------------------------------------------------

def _outcome(state: str = "done", runs: dict | None = None, killed: list | None = None) -> kill.Outcome:
    return kill.Outcome({"e1": state}, runs or {}, {}, killed or [], None, [])


def test_the_judge_compares_final_states():
    worker = kill.Invocation("worker", True, ops=["SendMessage"], pid=7)
    assert kill.judge("c", _outcome(), _outcome(killed=[worker]), "worker").status == "recovered"
    verdict = kill.judge("c", _outcome(), _outcome("running", killed=[worker]), "worker")
    assert verdict.status == "diverged" and "expected done, got running" in verdict.detail
    assert kill.judge("c", _outcome(), _outcome(), "worker").status == "missed"  # the kill never fired


def test_the_judge_allows_a_rerun_only_after_a_worker_died_with_the_attempt_claimed():
    clean = _outcome(runs={"e1:a:1:0:1": [(1, 0)]})
    # the worker ran the action (after 1 call) and died at its outcome's send, or after it:
    # between the claim and Lambda's delete, the README's window
    for ops in (["PutItem", "SendMessage"], ["PutItem", "SendMessage", "return"]):
        died = kill.Invocation("worker", True, ops=ops, pid=7)
        got = _outcome(runs={"e1:a:1:0:1": [(7, 1), (8, 1)]}, killed=[died])
        assert kill.judge("c", clean, got, "worker").status == "recovered"
    # two runs by processes that lived: a dispatch delivered twice
    got = _outcome(runs={"e1:a:1:0:1": [(8, 1), (9, 1)]}, killed=[died])
    verdict = kill.judge("c", clean, got, "advance")
    assert verdict.status == "diverged" and "a process that lived" in verdict.detail
    # a third run: the killed worker's, a living one's, and another
    got = _outcome(runs={"e1:a:1:0:1": [(7, 1), (8, 1), (9, 1)]}, killed=[died])
    assert "ran 3 times" in kill.judge("c", clean, got, "worker").detail
    # an attempt the clean run did not have
    got = _outcome(runs={"e1:a:1:0:1": [(8, 1)], "e1:a:1:0:2": [(8, 1)]}, killed=[died])
    assert "extra ['e1:a:1:0:2']" in kill.judge("c", clean, got, "advance").detail


def test_distinct_points_collapse_reads_after_reads():
    ops = ["GetItem", "GetItem", "PutItem", "GetItem", "Query", "SendMessage", "return", "GetItem", "return"]
    # dying before the 2nd GetItem is dying before the 1st; before the Query, before the GetItem after the Put
    assert kill.distinct_points(ops) == [1, 4, 7, 8]

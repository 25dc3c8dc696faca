"""Process-death fault sweep (a benchmark-style runner, not a test).

Each case runs one workflow shape to its end on a moto server, with the handler
under test (start, advance, worker, or the HTTP API) SIGKILLed at its k-th AWS call
in a forked child, redelivered the same, smaller, merged or interleaved; it must
end as the clean run did, with no run recorded twice and no action run twice
outside the README's window. ``tests/functional/kill.py`` is the harness and
``tests/functional/test_kill.py`` runs the same cases as tests.

    python bench/faults.py --quick              # a representative slice, what test_kill.py runs in CI
    python bench/faults.py --wide               # every distinct point of one variant, a third of the others
    python bench/faults.py --full --jobs 2      # every distinct kill point, every variant
    python bench/faults.py --shape join --handler advance --variant smaller

Prints one line per case that did not recover, a table by handler and shape, the
time taken, and last ``faults: N injected, N recovered, N diverged, N stuck``.
Exit status 1 when a case diverged or got stuck.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional import kill  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_const", dest="slice", const="quick")
    which.add_argument("--wide", action="store_const", dest="slice", const="wide")
    which.add_argument("--full", action="store_const", dest="slice", const="full")
    parser.add_argument("--shape", action="append", choices=sorted(kill.SHAPES))
    parser.add_argument("--handler", action="append", choices=kill.HANDLERS)
    parser.add_argument("--variant", action="append", choices=kill.VARIANTS)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="run only the slice's first N cases (a quick check that the sweep runs)")
    args = parser.parse_args(argv)
    slice_ = args.slice or "quick"
    started = time.perf_counter()
    with kill.MotoServer():
        sweep = kill.Sweep()
        cases = []
        for shape in args.shape or kill.SHAPES:
            for handler in args.handler or kill.HANDLERS:
                if args.limit is not None and len(cases) >= args.limit:
                    break  # planning measures clean runs: stop before the shapes not needed
                cases += [(shape, handler, k, v) for k, v in kill.plan(sweep, shape, handler, slice_)
                          if not args.variant or v in args.variant]
        cases = cases[:args.limit] if args.limit is not None else cases
        measured = time.perf_counter() - started
        kill.run_cases(sweep, cases, args.jobs)
    elapsed = time.perf_counter() - started
    unexplained = 0
    for shape, handler, k, variant, verdict in sweep.verdicts:
        if verdict.status != "recovered":
            reason = kill.known(sweep.clean_run(shape, variant), handler, k, variant)
            unexplained += reason is None
            print(f"{verdict.status.upper()} {verdict.case}: {verdict.detail}"
                  + (f" [known: {reason}]" if reason else " [NOT PREDICTED]"))
    predicted = [c for c in cases if kill.known(sweep.clean_run(c[0], c[3]), c[1], c[2], c[3])]
    recovered_known = [v for s, h, k, var, v in sweep.verdicts
                       if v.status == "recovered" and kill.known(sweep.clean_run(s, var), h, k, var)]
    print(f"{len(predicted)} cases predicted not to recover (kill.known), {len(recovered_known)} of them recovered; "
          f"{unexplained} failures not predicted")
    lines = kill.summary(sweep.verdicts)
    print("\n".join(lines[:-1]))
    print(f"slice {slice_}: {len(cases)} cases in {elapsed:.0f} s ({measured:.0f} s of clean runs), {args.jobs} jobs")
    print(lines[-1])
    return 0 if all(v.status == "recovered" for *_, v in sweep.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())

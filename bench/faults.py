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
    python bench/faults.py --full --part 3/10   # the 4th tenth of it (CI runs one a run)
    python bench/faults.py --full --spread --verbose  # round-robin over shapes, a line per case
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
    parser.add_argument("--part", help="PART/PARTS: every PARTS-th case of the slice from the PART-th (0-based)")
    parser.add_argument("--spread", action="store_true",
                        help="round-robin over shapes, handlers and variants (a run stopped early has seen them all)")
    parser.add_argument("--verbose", action="store_true", help="a line per case as its verdict comes")
    parser.add_argument("--shape", action="append", choices=sorted(kill.SHAPES))
    parser.add_argument("--handler", action="append", choices=kill.HANDLERS)
    parser.add_argument("--variant", action="append", choices=kill.VARIANTS)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--server", action="store_true",
                        help="run the handlers in forked children SIGKILLed against a moto server (the slow, "
                             "literal way) instead of in threads frozen against moto in-process")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="run only the slice's first N cases (a quick check that the sweep runs)")
    args = parser.parse_args(argv)
    slice_ = (args.slice or "quick") + (f":{args.part}" if args.part else "")
    started = time.perf_counter()
    with kill.MotoServer() if args.server else kill.InProcessAWS():
        sweep = kill.Sweep()
        cases = [c for c in kill.all_cases(sweep, slice_, args.shape, args.handler, args.limit)
                 if not args.variant or c[3] in args.variant]
        if args.spread:
            turns: dict[tuple[str, str, str], int] = {}
            order = []
            for c in cases:  # a turn per shape, handler and variant
                group = (c[0], c[1], c[3])
                turns[group] = turns.get(group, -1) + 1
                order.append((turns[group], c))
            cases = [c for _, c in sorted(order, key=lambda t: t[0])]
        measured = time.perf_counter() - started
        print(f"slice {slice_}: {len(cases)} cases; clean runs measured in {measured:.0f} s", flush=True)

        def progress(done: int, verdict: kill.Verdict) -> None:
            if verdict.status != "recovered":
                print(f"  {verdict.status.upper()} {verdict.case}: {verdict.detail}", flush=True)
            elif args.verbose:
                print(f"  ok {verdict.case}", flush=True)
            if done % 50 == 0 or done == len(cases):
                print(f"  {done}/{len(cases)} cases, {time.perf_counter() - started:.0f} s", flush=True)

        kill.run_cases(sweep, cases, args.jobs, progress)
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

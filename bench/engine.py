"""Engine benchmark on the memory backend (a benchmark, not a test).

For each shape and size it generates the workflow's YAML, then loads,
validates and runs it, and prints the seconds and the microseconds per task
(or per item). Per-task cost should stay flat as the size grows: the closing
table compares 10,000 with 1,000 of each shape (goal: within 1.5x), and the
load of the 10,000-task sequence, whose every task publishes its own variable,
with the goal of well under a second (at most half of one, in CPU time).

Shapes:
  seq     a sequence; each task publishes its own variable (v0, v1, ...): N distinct variables
  vars    a sequence in which each task also reads the previous task's variable: N distinct
          templates as well, each compiled by Jinja once
  fanout  a start task, N branches each publishing its own variable, a ``join: all`` task
  items   one task, ``with_items`` over N items, concurrency 10

Times are CPU seconds of this process (``time.process_time``) beside the wall
seconds: on a shared machine the wall clock also counts other processes' turns.

The load goal is judged on the median of several fresh processes (``--load-samples``,
9 by default), each generating the 10,000-task text and timing its load alone: one
sample moves by a third or more on a shared machine, and the table's row is one sample
taken after every smaller shape has run in the same process.

    python bench/engine.py            # every shape and size
    python bench/engine.py seq 10000  # one shape, one size
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc

from relayflow.core.loader import load_text
from relayflow.harness import MemoryStack


def sequence(n: int) -> str:
    lines = ["name: bench.seq", "tasks:"]
    for i in range(n):
        lines += [f"  - name: t{i}", "    action: core.echo", f"    input: {{i: {i}}}",
                  f"    publish: [{{v{i}: \"{{{{ result().i }}}}\"}}]"]
        if i + 1 < n:
            lines.append(f"    on_success: t{i + 1}")
    lines += ["output:", f"  last: \"{{{{ vars.v{n - 1} }}}}\""]
    return "\n".join(lines) + "\n"


def distinct_vars(n: int) -> str:
    lines = ["name: bench.vars", "tasks:"]
    for i in range(n):
        prev = f"\"{{{{ vars.v{i - 1} }}}}\"" if i else "0"
        lines += [f"  - name: t{i}", "    action: core.echo", f"    input: {{i: {i}, prev: {prev}}}",
                  f"    publish: [{{v{i}: \"{{{{ result().i }}}}\"}}]"]
        if i + 1 < n:
            lines.append(f"    on_success: t{i + 1}")
    lines += ["output:", f"  last: \"{{{{ vars.v{n - 1} }}}}\""]
    return "\n".join(lines) + "\n"


def fanout(n: int) -> str:
    lines = ["name: bench.fanout", "tasks:", "  - name: start", "    action: core.noop",
             "    on_success: [" + ", ".join(f"b{i}" for i in range(n)) + "]"]
    for i in range(n):
        lines += [f"  - name: b{i}", "    action: core.echo", f"    input: {{i: {i}}}",
                  f"    publish: [{{v{i}: \"{{{{ result().i }}}}\"}}]", "    on_success: join"]
    lines += ["  - name: join", "    join: all", "    action: core.noop"]
    return "\n".join(lines) + "\n"


def items(n: int, concurrency: int = 10) -> str:
    return (f"name: bench.items\ntasks:\n  - name: each\n    action: core.echo\n"
            f"    with_items: \"{{{{ range({n}) | list }}}}\"\n    concurrency: {concurrency}\n"
            f"    input: {{i: \"{{{{ item }}}}\"}}\n"
            f"    publish: [{{count: \"{{{{ result() | length }}}}\"}}]\n"
            f"output: {{count: \"{{{{ vars.count }}}}\"}}\n")


SHAPES = {
    "seq": (sequence, [10, 100, 1000, 10000], lambda n: n),
    "vars": (distinct_vars, [1000, 10000], lambda n: n),
    "fanout": (fanout, [10, 100, 1000, 10000], lambda n: n + 2),
    "items": (items, [100, 1000, 10000], lambda n: n),
}


FLAT_GOAL = 1.5  # per-task CPU at 10,000 at most this many times that at 1,000
# The 10,000-task sequence with 10,000 variables loads in well under a second: taken as at most
# half of one, in CPU seconds, so that a figure just under a second is not called a success.
LOAD_GOAL_S = 0.5


def measure(shape: str, n: int, memory: bool = False) -> dict:
    make, _, units = SHAPES[shape]
    text = make(n)
    gc.collect()
    if memory:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    spec = load_text(text, f"{shape}-{n}.yaml")
    t_load, c_load = time.perf_counter(), time.process_time()
    stack = MemoryStack(seed=0, keep_events=False)
    stack.register(spec)
    result = stack.run(spec.name, {})
    t_end, c_end = time.perf_counter(), time.process_time()
    peak = 0
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result["status"] == "succeeded", result["error"]
    count = units(n)
    return {"shape": shape, "n": n, "units": count, "load_s": round(t_load - t0, 4),
            "run_s": round(t_end - t_load, 4), "total_s": round(t_end - t0, 4),
            "load_cpu_s": round(c_load - c0, 4), "run_cpu_s": round(c_end - c_load, 4),
            "us_per_task": round((t_end - t0) / count * 1e6, 1),
            "cpu_us_per_task": round((c_end - c0) / count * 1e6, 1),
            "run_cpu_us_per_task": round((c_end - c_load) / count * 1e6, 1),
            "peak_mib": round(peak / 2**20, 1) if memory else None, "commits": stack.store.commits}


def load_once(n: int) -> float:
    """CPU seconds to load and validate the ``seq`` text of ``n`` tasks, in this process."""
    text = sequence(n)
    gc.collect()
    c0 = time.process_time()
    load_text(text, f"seq-{n}.yaml")
    return time.process_time() - c0


def load_samples(n: int, count: int) -> list[float]:
    """``load_once`` in ``count`` fresh processes, one after another."""
    out = []
    for _ in range(count):
        child = subprocess.run([sys.executable, __file__, "--load-once", str(n)], capture_output=True,
                               text=True, check=True)
        out.append(float(child.stdout))
    return out


def goals(rows: list[dict], samples: list[float] | None = None) -> list[str]:
    """The goals, as met or not, from whichever measurements were made; the load goal on the
    median of ``samples`` (fresh processes' load CPU seconds) when there are any."""
    by = {(r["shape"], r["n"]): r for r in rows}
    out = []
    for shape in SHAPES:
        small, large = by.get((shape, 1000)), by.get((shape, 10000))
        if small and large:
            ratio = large["cpu_us_per_task"] / small["cpu_us_per_task"]
            verdict = "met" if ratio <= FLAT_GOAL else "NOT met"
            out.append(f"{shape:<8} CPU us/task at 10,000 / at 1,000 = {large['cpu_us_per_task']:.0f} / "
                       f"{small['cpu_us_per_task']:.0f} = {ratio:.2f}x (goal <= {FLAT_GOAL}x): {verdict}")
    seq = by.get(("seq", 10000))
    if samples:
        median = statistics.median(samples)
        verdict = "met" if median <= LOAD_GOAL_S else "NOT met"
        out.append(f"seq      10,000 tasks, 10,000 variables: loads and validates in {median:.2f} CPU s, the "
                   f"median of {len(samples)} fresh processes (best {min(samples):.2f}, worst {max(samples):.2f}) "
                   f"(goal: well under a second, <= {LOAD_GOAL_S} CPU s): {verdict}")
    elif seq:
        verdict = "met" if seq["load_cpu_s"] <= LOAD_GOAL_S else "NOT met"
        out.append(f"seq      10,000 tasks, 10,000 variables: loads and validates in {seq['load_cpu_s']:.2f} CPU s "
                   f"({seq['load_s']:.2f} s wall) (goal: well under a second, <= {LOAD_GOAL_S} CPU s): {verdict}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--json", action="store_true", help="one JSON line per measurement")
    parser.add_argument("--memory", action="store_true", help="also trace peak memory (slows the run)")
    parser.add_argument("--max-n", type=int, default=None, metavar="N",
                        help="measure no size above N (a quick check that the bench runs; no goal is judged)")
    parser.add_argument("--load-samples", type=int, default=9, metavar="K",
                        help="fresh processes whose median load judges the load goal (0: the table's row)")
    parser.add_argument("--load-once", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_once:
        print(load_once(args.load_once))
        return 0
    plan = [(args.shape, [args.n] if args.n else SHAPES[args.shape][1])] if args.shape else \
        [(s, sizes) for s, (_, sizes, _) in SHAPES.items()]
    if args.max_n is not None:
        plan = [(shape, sorted({min(n, args.max_n) for n in sizes})) for shape, sizes in plan]
    if not args.json:
        print(f"{'shape':<8}{'n':>7}{'load s':>9}{'run s':>9}{'wall us/task':>14}{'load CPU s':>12}{'run CPU s':>11}"
              f"{'CPU us/task':>13}{'peak MiB':>10}")
    rows = []
    for shape, sizes in plan:
        for n in sizes:
            row = measure(shape, n, args.memory)
            rows.append(row)
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{shape:<8}{n:>7}{row['load_s']:>9.3f}{row['run_s']:>9.3f}{row['us_per_task']:>14.1f}"
                      f"{row['load_cpu_s']:>12.3f}{row['run_cpu_s']:>11.3f}{row['cpu_us_per_task']:>13.1f}"
                      f"{row['peak_mib'] or 0:>10.1f}")
            sys.stdout.flush()
    if not args.json:
        measured = any(r["shape"] == "seq" and r["n"] == 10000 for r in rows)
        samples = load_samples(10000, args.load_samples) if measured and args.load_samples > 0 else None
        for line in goals(rows, samples):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

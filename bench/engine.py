"""Engine benchmark on the memory backend (a benchmark, not a test).

For each shape and size it generates the workflow's YAML, then loads,
validates and runs it, and prints the total seconds and the microseconds per
task (or per item), wall clock and CPU time of this process (the CPU figure
moves less when other work shares the machine). Per-task cost should stay flat
as the size grows.

    python bench/engine.py            # every shape and size
    python bench/engine.py seq 10000  # one shape, one size
"""
from __future__ import annotations

import argparse
import gc
import json
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
    "fanout": (fanout, [10, 100, 1000], lambda n: n + 2),
    "items": (items, [100, 1000, 10000], lambda n: n),
}


def measure(shape: str, n: int, memory: bool = False) -> dict:
    make, _, units = SHAPES[shape]
    text = make(n)
    gc.collect()
    if memory:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    spec = load_text(text, f"{shape}-{n}.yaml")
    t_load = time.perf_counter()
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
            "us_per_task": round((t_end - t0) / count * 1e6, 1),
            "run_us_per_task": round((t_end - t_load) / count * 1e6, 1),
            "cpu_us_per_task": round((c_end - c0) / count * 1e6, 1),
            "peak_mib": round(peak / 2**20, 1) if memory else None, "commits": stack.store.commits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--json", action="store_true", help="one JSON line per measurement")
    parser.add_argument("--memory", action="store_true", help="also trace peak memory (slows the run)")
    args = parser.parse_args(argv)
    plan = [(args.shape, [args.n] if args.n else SHAPES[args.shape][1])] if args.shape else \
        [(s, sizes) for s, (_, sizes, _) in SHAPES.items()]
    if not args.json:
        print(f"{'shape':<8}{'n':>7}{'load s':>9}{'run s':>9}{'total s':>9}{'us/task':>10}{'run us/task':>13}"
              f"{'cpu us/task':>13}{'peak MiB':>10}")
    for shape, sizes in plan:
        for n in sizes:
            row = measure(shape, n, args.memory)
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{shape:<8}{n:>7}{row['load_s']:>9.3f}{row['run_s']:>9.3f}{row['total_s']:>9.3f}"
                      f"{row['us_per_task']:>10.1f}{row['run_us_per_task']:>13.1f}{row['cpu_us_per_task']:>13.1f}"
                      f"{row['peak_mib'] or 0:>10.1f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

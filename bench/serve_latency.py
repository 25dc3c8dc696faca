"""How fast ``relayflow serve`` answers while a big ``with_items`` runs (a benchmark, not a test).

It serves the API on 127.0.0.1 over the embedded AWS stack (moto + the Lambda
handlers, the pump running in real time), registers one workflow whose only
task runs ``core.echo`` over N items, starts it, and while it runs keeps one
client asking, in turn, ``GET /executions/ID``, ``GET /executions/ID/graph``,
``GET /executions?limit=20`` and ``GET /ui/executions/ID``, pausing
``--interval`` seconds between rounds (a console polls once a second; 0 keeps
the server busy answering, which slows the run it measures). It prints each
request kind's p50 / p99 / max latency, how long the run took and its items
per second. Every request goes to loopback only.

    python bench/serve_latency.py                     # 1,000 items, no concurrency cap
    python bench/serve_latency.py --items 500 --concurrency 10
    python bench/serve_latency.py --backend memory
"""
from __future__ import annotations

import argparse
import gc
import http.client
import json
import statistics
import sys
import threading
import time
from typing import Any

from relayflow.serve import ApiServer, freeze_heap, make_stack


class Watch:
    """Where a slow request's time went: in the API handler or outside it (queued behind the
    pump for the interpreter), and what stalled the whole process meanwhile: garbage
    collections (gc.callbacks) and gaps where a thread asking to run every 10 ms could not."""

    TICK = 0.01

    def __init__(self) -> None:
        self.gcs: list[tuple[float, float, int]] = []  # (start, end, generation)
        self.stalls: list[tuple[float, float]] = []  # (start, end) of each late wake-up over 50 ms
        self.handled: list[tuple[float, float]] = []  # (start, end) of each API handler call
        self._gc_start = 0.0
        self._stop = threading.Event()
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._tick, daemon=True, name="bench-watch").start()

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gcs.append((self._gc_start, time.perf_counter(), info["generation"]))

    def _tick(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            time.sleep(self.TICK)
            late = time.perf_counter() - t - self.TICK
            if late > 0.05:
                self.stalls.append((t + self.TICK, t + self.TICK + late))

    def wrap(self, handler: Any) -> Any:
        def timed(event: Any, context: Any) -> Any:
            t = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                self.handled.append((t, time.perf_counter()))
        return timed

    def close(self) -> None:
        self._stop.set()
        gc.callbacks.remove(self._gc)

    def explain(self, start: float, end: float) -> dict[str, float]:
        def within(spans: Any) -> float:
            return sum(max(0.0, min(b, end) - max(a, start)) for a, b, *_ in spans)
        return {"handler_ms": round(1000 * within(self.handled), 1),
                "gc_ms": round(1000 * within(self.gcs), 1),
                "gc2_ms": round(1000 * within([g for g in self.gcs if g[2] == 2]), 1),
                "stalled_ms": round(1000 * within(self.stalls), 1)}

    def summary(self) -> dict[str, Any]:
        by_gen = {gen: [b - a for a, b, g in self.gcs if g == gen] for gen in (0, 1, 2)}
        return {"gc": {f"gen{g}": {"n": len(v), "max_ms": round(1000 * max(v, default=0), 1),
                                   "total_s": round(sum(v), 2)} for g, v in by_gen.items()},
                "stalls_over_50ms": len(self.stalls),
                "longest_stall_ms": round(1000 * max((b - a for a, b in self.stalls), default=0), 1)}


def workflow(n: int, concurrency: int | None) -> str:
    cap = f"    concurrency: {concurrency}\n" if concurrency else ""
    return (f"name: bench.serve\ntasks:\n  - name: each\n    action: core.echo\n"
            f"    with_items: \"{{{{ range({n}) | list }}}}\"\n{cap}"
            f"    input: {{i: \"{{{{ item }}}}\"}}\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, float]:
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.perf_counter() - t0
    return resp.status, (json.loads(data) if resp.headers.get("Content-Type", "").startswith("application/json")
                         else data), elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=None, help="the task's concurrency cap (default none)")
    parser.add_argument("--backend", choices=("local", "memory"), default="local")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between rounds of requests")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the heap to every full garbage collection (serve freezes it once the stack is up)")
    args = parser.parse_args(argv)

    stack = make_stack(args.backend)
    if not args.no_freeze:
        freeze_heap()  # as relayflow serve does
    samples: dict[str, list[float]] = {"execution": [], "graph": [], "list": [], "page": []}
    slow: list[tuple[float, float, float, str]] = []  # (elapsed, start, end, kind), the slowest kept
    watch = Watch()
    with ApiServer(stack) as server:
        server._handler = watch.wrap(server._handler)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        status, body, _ = call(conn, "PUT", "/workflows/bench.serve", workflow(args.items, args.concurrency).encode())
        assert status == 200, body
        t0 = time.perf_counter()
        status, body, _ = call(conn, "POST", "/workflows/bench.serve/executions", b"{}")
        assert status == 201, body
        eid = body["execution_id"]
        paths = {"execution": f"/executions/{eid}", "graph": f"/executions/{eid}/graph",
                 "list": "/executions?limit=20", "page": f"/ui/executions/{eid}"}
        final, last = None, {}
        while time.perf_counter() - t0 < args.timeout:
            for kind, path in paths.items():
                began = time.perf_counter()
                status, body, elapsed = call(conn, "GET", path)
                assert status == 200, (path, status, body)
                samples[kind].append(elapsed)
                slow = sorted([*slow, (elapsed, began, began + elapsed, kind)], reverse=True)[:3]
                if kind == "execution":
                    last = body
            if last.get("status") not in ("running", None):
                final = last
                break
            time.sleep(args.interval)
        run_s = time.perf_counter() - t0
        conn.close()
    watch.close()
    close = getattr(stack, "close", None)
    if close:
        close()
    if final is None:
        print(f"the run did not end within {args.timeout} s", file=sys.stderr)
        return 1
    rows = {kind: {"n": len(v), "p50_ms": round(statistics.median(v) * 1000, 1),
                   "p99_ms": round(percentile(v, 0.99) * 1000, 1), "max_ms": round(max(v) * 1000, 1)}
            for kind, v in samples.items()}
    report = {"backend": args.backend, "items": args.items, "concurrency": args.concurrency,
              "interval_s": args.interval, "heap_frozen": not args.no_freeze,
              "status": final["status"], "run_s": round(run_s, 1),
              "items_per_s": round(args.items / run_s, 1), "latency": rows,
              "slowest": [{"kind": kind, "ms": round(1000 * elapsed, 1), **watch.explain(a, b)}
                          for elapsed, a, b, kind in slow],
              "process": watch.summary()}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"backend {args.backend}, {args.items} items, concurrency {args.concurrency or 'none'}, "
          f"heap {'frozen' if report['heap_frozen'] else 'not frozen'}: "
          f"{final['status']} in {run_s:.1f} s ({report['items_per_s']} items/s)")
    print(f"{'request':<12}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, row in rows.items():
        print(f"{kind:<12}{row['n']:>7}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['max_ms']:>9.1f}")
    print("slowest requests: total ms = in the API handler + outside it; what stalled the process meanwhile")
    for row in report["slowest"]:
        print(f"  {row['kind']:<10}{row['ms']:>9.1f} ms: handler {row['handler_ms']:.1f}, outside "
              f"{row['ms'] - row['handler_ms']:.1f}; garbage collection {row['gc_ms']:.1f} (full {row['gc2_ms']:.1f}), "
              f"process stalled {row['stalled_ms']:.1f}")
    proc = report["process"]
    gcs = ", ".join(f"{g} {v['n']} (longest {v['max_ms']:.0f} ms, {v['total_s']:.1f} s in all)"
                    for g, v in proc["gc"].items())
    print("garbage collections: " + gcs
          + f"; stalls over 50 ms: {proc['stalls_over_50ms']} (longest {proc['longest_stall_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

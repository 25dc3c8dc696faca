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

from relayflow.priority_lock import PriorityLock, take_waits
from relayflow.serve import ApiServer, freeze_heap, make_stack


class Watch:
    """Where a slow request's time went: in the API handler or outside it (queued behind the
    pump for the interpreter), and what stalled the whole process meanwhile: garbage
    collections (gc.callbacks) and gaps where a thread asking to run every 10 ms could not."""

    TICK = 0.01
    PUMP_THREADS = ("relayflow-pump", "lambda-instance")  # the pump and the handlers' instances

    def __init__(self) -> None:
        self.gcs: list[tuple[float, float, int]] = []  # (start, end, generation)
        self.stalls: list[tuple[float, float]] = []  # (start, end) of each late wake-up over 50 ms
        self.handled: list[tuple[float, float]] = []  # (start, end) of each API handler call
        self.waits: list[tuple[float, float, dict[str, float]]] = []  # (start, end, lock -> s waited) per request
        self.pump_cpu: list[tuple[float, float]] = []  # (when, CPU s the pump's threads used so far)
        self._cpu_seen: dict[int, float] = {}
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
            self.pump_cpu.append((time.perf_counter(), self._pump_cpu()))

    def _pump_cpu(self) -> float:
        """CPU seconds used so far by the pump's threads (Linux: each thread's own CPU clock)."""
        for thread in threading.enumerate():
            if thread.name.startswith(self.PUMP_THREADS) and thread.ident is not None:
                try:
                    clock = time.pthread_getcpuclockid(thread.ident)
                    self._cpu_seen[thread.ident] = time.clock_gettime(clock)
                except (OSError, AttributeError):  # ended meanwhile, or no per-thread clocks here
                    continue
        return sum(self._cpu_seen.values())

    def wrap_invoke(self, invoke: Any) -> Any:
        """Time each request's waits for the locks it shares with the pump (priority_lock.take_waits)."""
        def timed(event: Any) -> Any:
            take_waits()
            t = time.perf_counter()
            try:
                return invoke(event)
            finally:
                self.waits.append((t, time.perf_counter(), take_waits()))
        return timed

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

    def cpu_between(self, start: float, end: float) -> float:
        before = [c for t, c in self.pump_cpu if t <= start]
        after = [c for t, c in self.pump_cpu if t >= end]
        return (after[0] if after else self.pump_cpu[-1][1] if self.pump_cpu else 0.0) - (before[-1] if before else 0.0)

    def explain(self, start: float, end: float, holds: list[tuple[float, float, str, str]]) -> dict[str, Any]:
        def within(spans: Any) -> float:
            return sum(max(0.0, min(b, end) - max(a, start)) for a, b, *_ in spans)
        waited: dict[str, float] = {}
        for a, b, w in self.waits:
            if a >= start and b <= end:
                for name, secs in w.items():
                    waited[name] = waited.get(name, 0.0) + secs
        pump_holds = [h for h in holds if h[1] > start and h[0] < end and h[2].startswith(self.PUMP_THREADS)]
        longest = max(pump_holds, key=lambda h: h[1] - h[0], default=None)
        return {"handler_ms": round(1000 * within(self.handled), 1),
                "lock_wait_ms": {k: round(1000 * v, 1) for k, v in waited.items()},
                "pump_cpu_ms": round(1000 * self.cpu_between(start, end), 1),
                "pump_calls": len(pump_holds),
                "pump_longest_call": ({"ms": round(1000 * (longest[1] - longest[0]), 1),
                                       "call": longest[3].rpartition("before-send.")[2]} if longest else None),
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
    parser.add_argument("--arrival-order", action="store_true",
                        help="grant the shared lock in arrival order, requests not first (as before)")
    args = parser.parse_args(argv)

    stack = make_stack(args.backend)
    if not args.no_freeze:
        freeze_heap()  # as relayflow serve does
    samples: dict[str, list[float]] = {"execution": [], "graph": [], "list": [], "page": []}
    slow: list[tuple[float, float, float, str]] = []  # (elapsed, start, end, kind), the slowest kept
    watch = Watch()
    holds: list[tuple[float, float, str, str]] = []
    with ApiServer(stack, requests_first=not args.arrival_order) as server:
        server._handler = watch.wrap(server._handler)
        server.invoke = watch.wrap_invoke(server.invoke)  # type: ignore[method-assign]
        shared = server.lock if isinstance(server.lock, PriorityLock) else None
        if shared is None:
            from relayflow.local.moto_tuning import MOTO_LOCK
            shared = MOTO_LOCK
        shared.holds = holds
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
        shared.holds = None
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
    lock_name = shared.name
    waited = [w.get(lock_name, 0.0) for _, _, w in watch.waits]
    pump_holds = [b - a for a, b, name, _ in holds if name.startswith(Watch.PUMP_THREADS)]
    lock_row = {"lock": lock_name, "requests": len(waited),
                "p50_ms": round(1000 * statistics.median(waited), 1) if waited else 0.0,
                "p99_ms": round(1000 * percentile(waited, 0.99), 1) if waited else 0.0,
                "max_ms": round(1000 * max(waited, default=0.0), 1),
                "pump_holds": len(pump_holds),
                "pump_hold_p99_ms": round(1000 * percentile(pump_holds, 0.99), 1) if pump_holds else 0.0,
                "pump_hold_max_ms": round(1000 * max(pump_holds, default=0.0), 1),
                "pump_cpu_s": round(watch.cpu_between(t0, t0 + run_s), 1)}
    report = {"backend": args.backend, "items": args.items, "concurrency": args.concurrency,
              "interval_s": args.interval, "heap_frozen": not args.no_freeze,
              "requests_first": not args.arrival_order,
              "status": final["status"], "run_s": round(run_s, 1),
              "items_per_s": round(args.items / run_s, 1), "latency": rows, "lock_wait": lock_row,
              "slowest": [{"kind": kind, "ms": round(1000 * elapsed, 1), **watch.explain(a, b, holds)}
                          for elapsed, a, b, kind in slow],
              "process": watch.summary()}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"backend {args.backend}, {args.items} items, concurrency {args.concurrency or 'none'}, "
          f"heap {'frozen' if report['heap_frozen'] else 'not frozen'}, "
          f"{'requests first' if report['requests_first'] else 'arrival order'}: "
          f"{final['status']} in {run_s:.1f} s ({report['items_per_s']} items/s)")
    print(f"{'request':<12}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, row in rows.items():
        print(f"{kind:<12}{row['n']:>7}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['max_ms']:>9.1f}")
    lr = lock_row
    print(f"{lock_name + ' lock wait':<19}{lr['p50_ms']:>9.1f}{lr['p99_ms']:>9.1f}{lr['max_ms']:>9.1f}"
          f"   (per request; the pump held it {lr['pump_holds']} times, p99 {lr['pump_hold_p99_ms']:.1f} ms, "
          f"longest {lr['pump_hold_max_ms']:.1f} ms; the pump's threads used {lr['pump_cpu_s']:.1f} CPU s)")
    print("slowest requests: total ms = in the API handler (lock waits included) + outside it; "
          "what the pump and the process did meanwhile")
    for row in report["slowest"]:
        waits = ", ".join(f"{k} {v:.1f}" for k, v in row["lock_wait_ms"].items()) or "none"
        longest = row["pump_longest_call"]
        print(f"  {row['kind']:<10}{row['ms']:>9.1f} ms: handler {row['handler_ms']:.1f}, outside "
              f"{row['ms'] - row['handler_ms']:.1f}; lock wait {waits}; pump CPU {row['pump_cpu_ms']:.1f}, "
              f"{row['pump_calls']} pump calls"
              + (f" (longest {longest['ms']:.1f} ms, {longest['call']})" if longest else "")
              + f"; garbage collection {row['gc_ms']:.1f} (full {row['gc2_ms']:.1f}), "
              f"process stalled {row['stalled_ms']:.1f}")
    proc = report["process"]
    gcs = ", ".join(f"{g} {v['n']} (longest {v['max_ms']:.0f} ms, {v['total_s']:.1f} s in all)"
                    for g, v in proc["gc"].items())
    print("garbage collections: " + gcs
          + f"; stalls over 50 ms: {proc['stalls_over_50ms']} (longest {proc['longest_stall_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

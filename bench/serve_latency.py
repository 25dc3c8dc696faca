"""How fast ``relayflow serve`` answers while a big ``with_items`` runs (a benchmark, not a test).

It serves the API on 127.0.0.1 over the embedded AWS stack (moto + the Lambda
handlers, the pump running in real time), registers one workflow whose only
task runs ``core.echo`` over N items, starts it, and while it runs keeps one
client asking, in turn, ``GET /executions/ID``, ``GET /executions/ID/graph``,
``GET /executions?limit=20`` and ``GET /ui/executions/ID``. It prints each
request kind's p50 / p99 / max latency, how long the run took and its items
per second. Every request goes to loopback only.

    python bench/serve_latency.py                     # 1,000 items, no concurrency cap
    python bench/serve_latency.py --items 500 --concurrency 10
    python bench/serve_latency.py --backend memory
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from typing import Any

from relayflow.serve import ApiServer, make_stack


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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    stack = make_stack(args.backend)
    samples: dict[str, list[float]] = {"execution": [], "graph": [], "list": [], "page": []}
    with ApiServer(stack) as server:
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
                status, body, elapsed = call(conn, "GET", path)
                assert status == 200, (path, status, body)
                samples[kind].append(elapsed)
                if kind == "execution":
                    last = body
            if last.get("status") not in ("running", None):
                final = last
                break
        run_s = time.perf_counter() - t0
        conn.close()
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
              "status": final["status"], "run_s": round(run_s, 1),
              "items_per_s": round(args.items / run_s, 1), "latency": rows}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"backend {args.backend}, {args.items} items, concurrency {args.concurrency or 'none'}: "
          f"{final['status']} in {run_s:.1f} s ({report['items_per_s']} items/s)")
    print(f"{'request':<12}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, row in rows.items():
        print(f"{kind:<12}{row['n']:>7}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['max_ms']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

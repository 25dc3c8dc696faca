"""A fuzz of every operation in the API's OpenAPI document, over raw HTTP: malformed bodies, wrong
types, missing and extra parameters, huge and odd Unicode values, every method on every path.

The requests are generated from the document the server publishes (GET /openapi.json): its
paths, parameters and body schemas. The API must answer every one with a status the document
lists for the operation (or 404/405 off the map), never a 5xx, with a JSON error for each 4xx;
and the stack must keep working afterwards. Figures (requests, 2xx, 4xx, 5xx) are printed
(``pytest -s``) and attached to the test report as properties.
"""
from __future__ import annotations

import http.client
import json
import random
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import serve

WORKFLOW = """\
name: fz.main
input:
  who: {type: string, default: "x"}
tasks:
  - {name: first, action: core.echo, input: {who: "{{ input.who }}"}, on_success: approve}
  - name: approve
    action: core.ask
    input:
      prompt: "ok?"
      schema: {type: object, properties: {ok: {type: boolean}}, required: [ok]}
    on_success: last
  - {name: last, action: core.echo, input: {x: 1}}
"""

CALLBACK = """\
name: fz.callback
tasks:
  - {name: wait, action: core.noop, callback: true, timeout: 3600, on_success: done}
  - {name: done, action: core.noop}
"""

FAILING = """\
name: fz.failing
tasks:
  - {name: boom, action: core.fail, input: {message: broken}}
"""

METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"]
DEEP = 70
WEIRD_STRINGS = [
    "", " ", "null", "0", "-1", "true", "1e309", "x" * 5000, "\u00fcn\u00efc\u00f6d\u00e9", "\u2603\U0001F600" * 3,
    "\u202eevil", "\x00", "\x1f\x7f", "../..", "a/b", "a?b", "a#b", "%", "%25", "%zz", "'; DROP TABLE x; --",
    "<script>alert(1)</script>", "{{ 7 * 7 }}", "{% raw %}", "~~~~", "a~b~1~0~ff", "\U0010FFFF", "\ufeff",
    "WFX#x", "EXEC#x", "\\", "\r\nX-Injected: 1",
]
WRONG_VALUES: list[Any] = [
    None, True, False, 0, -1, 2 ** 64, 1.5, -1e308, "", "s", "x" * 200_000, "\u00fc\U0001F600\u202e", [], [1, "a", None],
    {}, {"a": {"b": [1, {"c": None}]}}, list(range(5000)),
]
RAW_JSON_BODIES: list[bytes] = [
    b" ", b"{", b"}", b"[", b"nul", b"NaN", b"Infinity", b"-Infinity", b"1e999", b"\xef\xbb\xbf{}", b"{}garbage",
    b"{'a': 1}", b'{"a": 1,}', b'{"a" 1}', b"\xff\xfe\x00", b"[" * 100_000, b"{" * 50_000, b"\x00",
    b'{"input": {"who": "\\ud800"}}', b'{"response": "\\udfff"}', b'{"__proto__": {"x": 1}}', b'{"a": 1, "a": 2}',
    b"[]", b'"a string"', b"12", b"null", b"true", b'{"input": ' * 5000 + b"1" + b"}" * 5000,
    b'"' + b"x" * 1_100_000 + b'"',
]
YAML_BODIES: list[bytes] = [
    b"", b"---", b"- a\n- b\n", b"name: fz.main\n", b"name: [1, 2]\ntasks: []\n", b"\tname: x\n",
    b"name: fz.main\ntasks:\n  - {name: a, action: core.echo}\n  - {name: a, action: core.echo}\n",
    b"a: &a [&b [&c [x, x], *c], *b]\nb: &d [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*d, *d, *d, *d, *d, *d, *d, *d]\n",
    b"[" * 20_000 + b"]" * 20_000, b"name: fz.main\ntasks: !!python/object/apply:os.system ['echo hi']\n",
    b"name: fz.main\ntasks: *nope\n", b"\xff\xfe\x00\x00", b"name: fz.main\ntasks:\n  - <<: *x\n",
    b"name: fz.main\ntasks:\n  - {name: a, action: core.echo, input: \"{{ ''.__class__.__mro__ }}\"}\n",
    b"name: fz.main\ntasks:\n  - {name: a, action: core.echo, input: {x: \"{{ range(10**9) | list }}\"}}\n",
    b"name: fz.main\n# " + b"x" * 900_000 + b"\n",
    ("name: fz.main\ntasks:\n" + "".join(f"  - {{name: t{i}, action: core.noop}}\n" for i in range(3000))).encode(),
    "name: fz.main\ntasks:\n  - {name: \u00e9t\u00e9, action: core.echo}\n".encode(),
    b"name: fz.main\ntasks:\n  - name: a\n    action: core.echo\n    next: [{when: '{{', do: a}]\n",
    b"name: fz.main\ntimeout: -5\nmax_task_runs: 1e99\ntasks:\n  - {name: a, action: core.sleep, input: {seconds: 1e99}}\n",
]


@dataclass
class Req:
    method: str
    path: bytes  # as it goes on the request line
    template: str | None  # the operation it aims at, None when off the map
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    well_formed: bool = True  # a request line and headers http.server accepts


@dataclass
class Figures:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(n for s, n in self.statuses.items() if str(s).startswith(kind))


def send(host: str, port: int, req: Req) -> tuple[int, dict[str, str], bytes]:
    head = [req.method.encode() + b" " + req.path + b" HTTP/1.1", f"Host: {host}:{port}".encode(),
            b"Connection: close", b"Content-Length: " + str(len(req.body)).encode()]
    head += [k + b": " + v for k, v in req.headers]
    if req.method not in ("GET", "HEAD", "OPTIONS") and not any(k.lower() == b"content-type" for k, _ in req.headers):
        # serve's door wants JSON or YAML on state-changing requests (test_red_team covers the refusal)
        head.append(b"Content-Type: " + (b"application/yaml" if req.method == "PUT" else b"application/json"))
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + req.body)
        resp = http.client.HTTPResponse(sock, method=req.method)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


# -- values from the document's schemas ------------------------------------------------------
def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    schema = resolve(doc, schema)
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return example(doc, schema[key][0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":  # the required fields only: optional ones are the mutations' business
        return {k: example(doc, v) for k, v in schema.get("properties", {}).items() if k in schema.get("required", [])}
    if kind == "string":
        return "a" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return {"any": ["value", 1]}


def deep(n: int) -> Any:
    value: Any = "bottom"
    for _ in range(n):
        value = {"d": value}
    return value


def body_mutations(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[Any]:
    """A valid body, then every way of breaking it we know of."""
    schema = resolve(doc, schema)
    valid = example(doc, schema)
    yield valid
    yield from WRONG_VALUES
    yield deep(DEEP)
    if isinstance(valid, dict):
        for key in schema.get("required", []):
            yield {k: v for k, v in valid.items() if k != key}
        yield {**valid, "unexpected": 1}
        yield {**valid, "\U0001F600": "x", "": None}
        for key, sub in schema.get("properties", {}).items():
            for wrong in WRONG_VALUES:
                yield {**valid, key: wrong}
            yield {**valid, key: deep(DEEP)}
            sub = resolve(doc, sub)
            for alt in sub.get("anyOf", []) + sub.get("oneOf", []):
                alt_valid = example(doc, alt)
                if isinstance(alt_valid, dict):
                    for inner in alt.get("properties", {}):
                        for wrong in (None, 5, [], "x" * 20_000):
                            yield {**valid, key: {**alt_valid, inner: wrong}}
                    yield {**valid, key: {**alt_valid, "extra": 1}}


# -- the generator ---------------------------------------------------------------------------
class Fuzzer:
    def __init__(self, doc: dict[str, Any], pools: dict[str, list[str]], seed: int = 7):
        self.doc = doc
        self.pools = pools  # path parameter name -> real values (ids of things that exist)
        self.rng = random.Random(seed)

    def segment(self, value: str, raw: bool = False) -> bytes:
        data = value.encode("utf-8", "surrogatepass")
        return data if raw else quote(data, safe="").encode()

    def path(self, template: str, values: dict[str, bytes], query: list[tuple[str, str]] | None = None) -> bytes:
        out = template.encode()
        for name, value in values.items():
            out = out.replace(b"{" + name.encode() + b"}", value)
        if query:
            out += b"?" + b"&".join(quote(k.encode("utf-8", "surrogatepass"), safe="").encode() + b"="
                                    + quote(v.encode("utf-8", "surrogatepass"), safe="").encode()
                                    for k, v in query)
        return out

    def good_params(self, template: str) -> dict[str, bytes]:
        names = [p[1:-1] for p in template.split("/") if p.startswith("{")]
        return {n: self.segment(self.rng.choice(self.pools[n])) for n in names}

    def requests(self) -> Iterator[Req]:
        paths = self.doc["paths"]
        for template, item in paths.items():
            # every method, well-formed otherwise
            for method in METHODS:
                yield Req(method, self.path(template, self.good_params(template)),
                          template if method.lower() in item else None)
            for method, op in item.items():
                yield from self.for_operation(method.upper(), template, op)
        # off the map
        for path in (b"/workflows//executions", b"/executions/a/b/c", b"/ui/x", b"/ui/executions/a/b",
                     b"/OPENAPI.JSON", b"/executions/%2e%2e/history/x", b"/%00", b"/" + b"a" * 8000, b"*"):
            for method in ("GET", "POST"):
                yield Req(method, path, None)
        # other spellings of a route: a trailing slash, a doubled leading one (http.server folds it),
        # the absolute form of the request target
        for path, template in ((b"/workflows/", "/workflows"), (b"/openapi.json/", "/openapi.json"),
                               (b"//executions", "/executions"), (b"http://evil.example/executions", "/executions"),
                               (b"/ui/executions/", "/ui/executions"), (b"/ui/", "/ui")):
            for method in ("GET", "PUT"):
                yield Req(method, path, template)
        # broken request lines and headers: http.server refuses them itself
        for path in (b"/executions/a b", b"/executions/\x00", b"/\xff\xfe"):
            yield Req("GET", path, None, well_formed=False)
        yield Req("GET", b"/openapi.json", "/openapi.json", [(b"X-Long", b"h" * 70_000)], well_formed=False)
        # random mixes of everything above
        ops = [(m.upper(), t, op) for t, item in paths.items() for m, op in item.items()]
        for _ in range(400):
            method, template, op = self.rng.choice(ops)
            variants = list(self.for_operation(method, template, op))
            yield self.rng.choice(variants)

    def for_operation(self, method: str, template: str, op: dict[str, Any]) -> Iterator[Req]:
        params = op.get("parameters", [])
        good = self.good_params(template)
        json_body = op.get("requestBody", {}).get("content", {}).get("application/json")
        yaml_body = "application/yaml" in op.get("requestBody", {}).get("content", {})
        base_body = b""
        if json_body:
            base_body = json.dumps(example(self.doc, json_body["schema"])).encode()
        elif yaml_body:
            base_body = WORKFLOW.encode()
        # path parameters: real, unknown, odd, huge, raw bytes
        for p in (p for p in params if p["in"] == "path"):
            for value in WEIRD_STRINGS + ["does-not-exist", "\ud800"]:
                yield Req(method, self.path(template, {**good, p["name"]: self.segment(value)}), template,
                          body=base_body)
            for value in ("\u00e9\u00e8", "\U0001F600"):
                yield Req(method, self.path(template, {**good, p["name"]: self.segment(value, raw=True)}), template,
                          body=base_body)
        # query parameters: each declared one with wrong and odd values, repeated; unknown ones
        for p in (p for p in params if p["in"] == "query"):
            schema = p["schema"]
            values = WEIRD_STRINGS + ["0", "101", "1.5", "1e2", "-0", "--5", "- 5", "+5", "5_0", " 5", "99999999999999999999",
                                      "\u0663",
                                      "PENDING", "running ", "eyJ3IjpudWxsfQ", "e30"]
            if "enum" in schema:
                values += schema["enum"]
            for value in values:
                yield Req(method, self.path(template, good, [(p["name"], value)]), template, body=base_body)
            yield Req(method, self.path(template, good, [(p["name"], "1"), (p["name"], "2")]), template,
                      body=base_body)
        for extra in (("unknown", "1"), ("", ""), ("\U0001F600", "x"), ("limit", "5")):
            yield Req(method, self.path(template, good, [extra]), template, body=base_body)
        # headers
        for p in (p for p in params if p["in"] == "header"):
            for value in (b"", b"k", b"k" * 256, "\u00fcn\u00ef\U0001F600".encode(), b"\t", b"x" * 8000):
                yield Req(method, self.path(template, good), template, [(p["name"].encode(), value)],
                          body=base_body)
        # bodies
        if json_body:
            for value in body_mutations(self.doc, json_body["schema"]):
                for ctype in (b"application/json", b"text/plain"):
                    yield Req(method, self.path(template, good), template, [(b"Content-Type", ctype)],
                              json.dumps(value, ensure_ascii=self.rng.random() < 0.5).encode())
        if json_body or yaml_body or op.get("requestBody") is None:
            for raw in RAW_JSON_BODIES:
                yield Req(method, self.path(template, good), template, [(b"Content-Type", b"application/json")], raw)
        if yaml_body:
            name = good.get("name", b"fz.main")
            for raw in YAML_BODIES:
                yield Req(method, self.path(template, {**good, "name": name}), template, body=raw)
            yield Req(method, self.path(template, {**good, "name": self.segment("fz.main")}), template,
                      body=WORKFLOW.encode())


def documented(doc: dict[str, Any], req: Req, status: int) -> bool:
    if req.template is None:
        return status in (404, 405)
    op = doc["paths"][req.template].get(req.method.lower())
    if op is None:
        return status == 405
    return str(status) in op["responses"]


def fuzz(api, doc: dict[str, Any], pools: dict[str, list[str]]) -> Figures:
    figures = Figures()
    host, port = api.server.host, api.server.port
    for req in Fuzzer(doc, pools).requests():
        status, headers, body = send(host, port, req)
        figures.sent += 1
        figures.statuses[status] += 1
        figures.by_operation[(req.method, req.template)] += 1
        what = f"{req.method} {req.path[:120]!r} body={req.body[:80]!r} -> {status} {body[:200]!r}"
        if status >= 500:
            figures.failures.append("5xx: " + what)
        elif req.well_formed and not documented(doc, req, status):
            figures.failures.append("status not in the document: " + what)
        elif req.well_formed and status >= 400 and req.method != "HEAD":
            try:
                err = json.loads(body)
                assert headers["content-type"].startswith("application/json")
                assert isinstance(err["type"], str) and isinstance(err["message"], str) and err["message"]
            except (ValueError, KeyError, AssertionError, TypeError):
                figures.failures.append("4xx without a JSON error: " + what)
    return figures


def prepare(api) -> dict[str, list[str]]:
    """Things that exist, so some requests reach deep into the handlers."""
    for text in (WORKFLOW, CALLBACK, FAILING):
        api.register(text)
    running = [api.start("fz.main", {"who": "a"}) for _ in range(3)]
    waiting = api.start("fz.callback")
    failed = api.start("fz.failing")
    api.settle()
    inquiries = [i["id"] for i in api.pending()]
    token = inquiries[0].replace("approve", "wait")  # the shape of a token
    return {"id": running + [waiting, failed] + inquiries, "name": ["fz.main", "fz.callback", "fz.failing"],
            "token": [token, f"{waiting}~wait~1~0~0123456789abcdef"],
            "task": ["approve", "wait", "nope"], "run": ["1", "2"]}


@pytest.mark.parametrize("backend", ["memory", "local"])
def test_fuzz_every_operation_never_answers_5xx(backend, record_property):
    for api in serve(backend):
        pools = prepare(api)
        doc = api.get("/openapi.json").body
        figures = fuzz(api, doc, pools)
        api.settle()  # every execution the fuzz started ran to where it waits, without a pump error
        summary = (f"fuzz [{backend}]: {figures.sent} requests, {figures.count('2')} 2xx, {figures.count('4')} 4xx, "
                   f"{figures.count('5')} 5xx over {len(figures.by_operation)} (method, operation) pairs; "
                   f"statuses {dict(sorted(figures.statuses.items()))}")
        print("\n" + summary)
        for key, value in (("requests", figures.sent), ("2xx", figures.count("2")), ("4xx", figures.count("4")),
                           ("5xx", figures.count("5"))):
            record_property(f"fuzz_{backend}_{key}", value)
        assert not figures.failures, "\n".join(figures.failures[:30])
        assert figures.count("5") == 0
        # every operation of the document was exercised, with successes and refusals
        ops = {(m.upper(), t) for t, item in doc["paths"].items() for m in item}
        assert ops <= set(figures.by_operation)
        assert figures.count("2") > 50 and figures.count("4") > 1000
        # and the stack still works (the fuzz registered other definitions under these names)
        api.register(WORKFLOW)
        eid = api.start("fz.main", {"who": "after"})
        api.settle()
        (inquiry,) = api.pending(eid)
        assert api.post(f"/inquiries/{inquiry['id']}/respond", {"response": {"ok": True}}).status == 200
        api.settle()
        assert api.execution(eid)["status"] == "succeeded"

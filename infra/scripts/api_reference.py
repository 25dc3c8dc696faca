"""Write docs/api.md from the OpenAPI document the API serves (relayflow.api.document).

    python infra/scripts/api_reference.py            # rewrite docs/api.md
    python infra/scripts/api_reference.py --check    # exit 1 if docs/api.md is stale
"""
from __future__ import annotations

import json
import pathlib
import sys

from relayflow.api.document import document

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = ROOT / "docs" / "api.md"

INTRO = """# API reference

Generated from the OpenAPI document the API serves at `GET /openapi.json`
(`infra/scripts/api_reference.py`; a test keeps this page in step with it).
On AWS the API is API Gateway (REST) with IAM authorization by default: sign
requests with SigV4 (`relayflow start|status|... --api URL` does; `relayflow
console --api URL` opens the console through a local proxy that signs for the
browser). Locally, `relayflow serve` answers on http://127.0.0.1:8080 with no
authentication; its console is at http://127.0.0.1:8080/ui.

Every error is `{"type": ..., "message": ..., "details": ...}` with a 4xx status;
no request makes the API answer 5xx. `GET /executions/{id}` returns the same
JSON as `relayflow run --json`.
"""


def _schema(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    kind = schema.get("type", "")
    if kind == "array":
        return f"array of {_schema(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(json.dumps(v) for v in schema["enum"])
    return kind or "any"


def _body(media: str, schema: dict, required: bool) -> str:
    """The request body: its fields as a table when it is an object, else its type."""
    head = f"Body (`{media}`, {'required' if required else 'optional'})"
    props = schema.get("properties")
    if schema.get("type") != "object" or props is None:
        return f"{head}: {_schema(schema)}.\n"
    if not props:
        return f"{head}: an empty JSON object `{{}}` (or no body).\n"
    needed = set(schema.get("required", []))
    rows = [f"{head}: a JSON object"
            + (" with no other fields" if schema.get("additionalProperties") is False else "") + ".\n",
            "| field | type | required | description |", "|---|---|---|---|"]
    for name, sub in props.items():
        kind = " or ".join(_schema(s) for s in sub["anyOf"]) if "anyOf" in sub else (_schema(sub) if sub else "any JSON")
        limit = f" (at most {sub['maxLength']} characters)" if "maxLength" in sub else ""
        rows.append(f"| `{name}` | {kind}{limit} | {'yes' if name in needed else 'no'} | {sub.get('description', '')} |")
    return "\n".join(rows) + "\n"


def render(spec: dict) -> str:
    out = [INTRO]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            out.append(f"## `{method.upper()} {path}`\n")
            out.append(f"{op.get('summary', '')}\n")
            if op.get("description"):
                out.append(f"{op['description']}\n")
            params = item.get("parameters", []) + op.get("parameters", [])
            if params:
                out.append("| parameter | in | type | required | description |\n|---|---|---|---|---|")
                for p in params:
                    out.append(f"| `{p['name']}` | {p['in']} | {_schema(p.get('schema', {}))} | "
                               f"{'yes' if p.get('required') else 'no'} | {p.get('description', '')} |")
                out.append("")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                out.append(_body(media, content.get("schema", {}), op["requestBody"].get("required", False)))
            out.append("| status | meaning |\n|---|---|")
            for status, resp in op.get("responses", {}).items():
                out.append(f"| {status} | {resp.get('description', '')} |")
            out.append("")
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out.append("## Schemas\n")
        for name, schema in schemas.items():
            out.append(f"### {name}\n\n```json\n{json.dumps(schema, indent=2)}\n```\n")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render(document())
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python infra/scripts/api_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

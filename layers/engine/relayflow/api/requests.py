"""Reading a request through the OpenAPI document: parameters and JSON bodies checked against
their schemas, every problem named (``details``), nothing a client sends answered with a 5xx."""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import unquote

from .document import DOCUMENT, MAX_BODY, MAX_DEPTH
from .errors import BadRequest, TooLarge, UnsupportedMediaType


# -- checking values against the document's schemas -----------------------------------
def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str), "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool), "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list), "null": lambda v: v is None,
}


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def check(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """Every way ``value`` breaks ``schema`` (the subset of JSON Schema this document uses)."""
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            results = [check(alt, value, where) for alt in schema[key]]
            if any(not r for r in results):
                return []
            return [f"{where}: does not match any allowed form ({'; '.join(r[0] for r in results)})"]
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES[n](value) for n in names):
            return [f"{where}: expected {' or '.join(names)}, got {_type_name(value)}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: must not be empty" if schema["minLength"] == 1
                            else f"{where}: at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where}: does not match {schema['pattern']}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: must be at most {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}.{key}: required")
        for key, item in value.items():
            if key in props:
                problems += check(props[key], item, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                allowed = ", ".join(props) or "none"
                problems.append(f"{where}.{key}: unknown field (allowed: {allowed})")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += check(schema["items"], item, f"{where}[{i}]")
    return problems


# -- reading a request (an API Gateway REST proxy event) against the document ---------------
def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        return b""
    if not isinstance(body, str):
        raise BadRequest("the body is not text")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64") from None
    else:
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:
            raise UnsupportedMediaType("the body is not UTF-8 text") from None
    if len(data) > MAX_BODY:
        raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
    return data


def text_body(event: dict[str, Any]) -> str:
    try:
        return raw_body(event).decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedMediaType("the body is not UTF-8 text") from None


def sane(value: Any, where: str) -> list[str]:
    """JSON the rest of the system can store: bounded nesting, encodable strings."""
    problems: list[str] = []
    stack = [(value, where, 1)]
    while stack and len(problems) < 20:
        item, at, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(f"{at}: nested deeper than {MAX_DEPTH} levels")
            continue
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(f"{at}: not valid Unicode (a lone surrogate)")
        elif isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            problems.append(f"{at}: not a finite number")
        elif isinstance(item, dict):
            for key, sub in item.items():
                stack.append((key, f"{at} (a key)", depth + 1))
                stack.append((sub, f"{at}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((sub, f"{at}[{i}]", depth + 1) for i, sub in enumerate(item))
    return problems


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(op: dict[str, Any], event: dict[str, Any]) -> Any:
    """The body as JSON, checked against the operation's schema; None when absent and optional."""
    text = text_body(event)
    spec = op.get("requestBody")
    if not text.strip():
        if spec and spec.get("required"):
            raise BadRequest("a JSON body is required", ["body: required"])
        return None
    if spec is None:
        raise BadRequest("this operation takes no body", ["body: not allowed"])
    try:
        value = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise BadRequest("the body is not valid JSON", [f"body: nested deeper than {MAX_DEPTH} levels"]) \
            from None
    except ValueError as exc:
        raise BadRequest("the body is not valid JSON", [f"body: {exc}"]) from None
    problems = sane(value, "body")
    if not problems:
        problems = check(spec["content"]["application/json"]["schema"], value, "body")
    if problems:
        raise BadRequest("the body is invalid", problems)
    return value


def params(op: dict[str, Any], event: dict[str, Any], raw_path: dict[str, str]) -> dict[str, Any]:
    """Path, query and header parameters, decoded and checked; every problem reported at once."""
    problems: list[str] = []
    out: dict[str, Any] = {}
    declared = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    query = {k: list(v) for k, v in multi.items()} if multi else {k: [v] for k, v in single.items()}
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    for name in sorted(query):
        if ("query", name) not in declared:
            allowed = ", ".join(n for w, n in declared if w == "query") or "none"
            problems.append(f"query parameter {name!r}: unknown (allowed: {allowed})")
    for (where, name), p in declared.items():
        schema, label = p["schema"], f"{where} parameter {name!r}"
        if where == "path":
            try:
                value: Any = unquote(raw_path[name], errors="strict")
            except UnicodeDecodeError:
                problems.append(f"{label}: not valid UTF-8 once percent-decoded")
                continue
        elif where == "query":
            if name not in query:
                continue
            if len(query[name]) > 1:
                problems.append(f"{label}: given {len(query[name])} times")
                continue
            value = query[name][0]
        else:
            value = headers.get(name.lower())
            if value is None:
                continue
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
                problems.append(f"{label}: expected an integer, got {value[:40]!r}")
                continue
            value = int(value)
        problems += sane(value, label) or check(schema, value, label)
        out[name] = value
    if problems:
        raise BadRequest("the request's parameters are invalid", problems)
    return out


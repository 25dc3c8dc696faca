"""The API's doors: docs/security.md's per-role IAM policies, checked against the deployed routes.

The doc has a table (route -> roles) and one example policy per role. Each policy's
``execute-api:Invoke`` resources are matched, with IAM's wildcard rules, against the ARN of a
request to every route the template deploys: a route must be reached by exactly the roles
the table names, every route by at least one role, and no resource may match nothing.
"""
from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from relayflow.api import document as api_spec

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
ROLES = {"author", "operator", "reviewer", "reader"}
PREFIX = re.compile(r"^arn:aws:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/(?P<stage>[^/]+)/(?P<rest>.+)$")


def parse_doc(text: str) -> tuple[dict[tuple[str, str], set[str]], dict[str, list[str]]]:
    """(route -> roles from the table, role -> policy resources)."""
    table: dict[tuple[str, str], set[str]] = {}
    for method, path, roles in re.findall(r"^\| `([A-Z]+) (/[^`]*)` \| ([a-z, ]+) \|$", text, re.M):
        assert (method, path) not in table, f"route listed twice: {method} {path}"
        table[(method, path)] = {r.strip() for r in roles.split(",")}
    policies: dict[str, list[str]] = {}
    for role, body in re.findall(r"^#### `(\w+)`\n\n```json\n(.*?)```", text, re.M | re.S):
        doc = json.loads(body)
        resources: list[str] = []
        for st in doc["Statement"]:
            assert (st["Effect"], st["Action"]) == ("Allow", "execute-api:Invoke"), st
            resources += st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        policies[role] = resources
    return table, policies


@pytest.fixture(scope="module")
def doc() -> tuple[dict[tuple[str, str], set[str]], dict[str, list[str]]]:
    return parse_doc(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def deployed() -> tuple[str, set[tuple[str, str]]]:
    """(stage name, (METHOD, path template)) of the API in template.yaml."""
    api = yaml_parse((REPO / "template.yaml").read_text(encoding="utf-8"))["Resources"]["Api"]["Properties"]
    paths = api["DefinitionBody"]["paths"]
    return api["StageName"], {(m.upper(), p) for p, item in paths.items() for m in item}


def request_arn(method: str, template: str, stage: str) -> str:
    """The resource ARN of one request to the route (each path parameter a sample value)."""
    path = re.sub(r"\{\w+\}", "x-1", template).lstrip("/")
    return f"arn:aws:execute-api:eu-west-1:123456789012:abcde12345/{stage}/{method}/{path}"


def matches(pattern: str, arn: str) -> bool:
    # IAM: * is any run of characters (slashes included), ? any one character
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def roles_reaching(policies: dict[str, list[str]], arn: str) -> set[str]:
    return {role for role, resources in policies.items() if any(matches(r, arn) for r in resources)}


def test_the_table_lists_exactly_the_deployed_routes(doc, deployed):
    table, _ = doc
    _, routes = deployed
    assert set(table) == routes == set(api_spec.routes())


def test_one_policy_per_role_on_this_stage(doc, deployed):
    table, policies = doc
    stage, _ = deployed
    assert set(policies) == ROLES
    assert set().union(*table.values()) == ROLES
    for role, resources in policies.items():
        assert resources, role
        for resource in resources:
            m = PREFIX.match(resource)
            assert m, f"{role}: {resource} is not an execute-api ARN"
            assert m["stage"] == stage, f"{role}: {resource} names stage {m['stage']}, the API's is {stage}"


def test_every_route_is_reached_by_exactly_its_roles(doc, deployed):
    table, policies = doc
    stage, routes = deployed
    wrong = {}
    for method, path in sorted(routes):
        reached = roles_reaching(policies, request_arn(method, path, stage))
        if reached != table[(method, path)]:
            wrong[f"{method} {path}"] = {"doc says": sorted(table[(method, path)]), "policies give": sorted(reached)}
    assert not wrong, json.dumps(wrong, indent=1)


def test_every_route_has_a_role(doc, deployed):
    _, policies = doc
    stage, routes = deployed
    assert all(roles_reaching(policies, request_arn(m, p, stage)) for m, p in routes)


def test_no_policy_resource_matches_nothing(doc, deployed):
    _, policies = doc
    stage, routes = deployed
    arns = [request_arn(m, p, stage) for m, p in routes]
    for role, resources in policies.items():
        for resource in resources:
            assert any(matches(resource, arn) for arn in arns), f"{role}: {resource} matches no route"


def test_state_changing_routes_are_not_a_readers(doc, deployed):
    _, policies = doc
    stage, routes = deployed
    for method, path in routes:
        if method != "GET":
            assert "reader" not in roles_reaching(policies, request_arn(method, path, stage)), (method, path)


def test_a_policy_that_grants_too_much_is_caught(doc, deployed):
    # GIVEN the operator's policy widened to every POST
    table, policies = doc
    stage, routes = deployed
    widened = {**policies, "operator": [policies["operator"][0].split("/POST/")[0] + "/POST/*"]}
    # THEN answering an inquiry is reached by a role the table does not give it
    arn = request_arn("POST", "/inquiries/{id}/respond", stage)
    assert roles_reaching(widened, arn) == {"operator", "reviewer"} != table[("POST", "/inquiries/{id}/respond")]

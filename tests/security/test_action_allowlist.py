"""Actions come from declared code only: python: modules a deployment declares, its own Lambda functions."""
from __future__ import annotations

import pytest

from relayflow import admission, cli
from relayflow.actions.allowlist import ActionModules, lambda_target_problem
from relayflow.actions.aws_lambda import LocalFunctions, register_lambda_action
from relayflow.actions.builtin import default_registry
from relayflow.actions.errors import ActionNotAllowed
from relayflow.actions.worker import run_attempt
from relayflow.core.loader import load_text
from relayflow.core.messages import DispatchAttempt
from relayflow.harness import MemoryStack
from relayflow.service import BadRequest

ATTACKS = ["python:os:system", "python:subprocess:run", "python:builtins:eval", "python:importlib:import_module",
           "python:relayflow.core.messages:decode", "python:relayflow.service:Service", "python:functions.api.app:handler",
           "python:sys:exit", "python:yaml:load", "python:boto3:client"]


def _dispatch(action: str, payload: object = None) -> DispatchAttempt:
    return DispatchAttempt("ex1", "wf", "t", 1, 0, 1, action, payload or {}, False, None)


@pytest.mark.parametrize("action", ATTACKS)
def test_given_no_declared_module_when_a_definition_names_any_module_then_registration_refuses_it(action):
    stack = MemoryStack(default_registry(ActionModules(["tests.security.fixture_actions"])))
    text = f"name: evil\ntasks:\n  - {{name: pwn, action: '{action}', input: {{}}}}\n"
    with pytest.raises(BadRequest) as info:
        stack.service.register_text(text, "evil")
    message = str(info.value)
    assert "task pwn" in message and action in message
    assert info.value.details[0]["task"] == "pwn" and info.value.details[0]["field"] == "action"
    assert "evil" not in stack.workflows.names()  # nothing half-written


@pytest.mark.parametrize("action", ATTACKS)
def test_given_an_attempt_for_an_undeclared_module_when_the_worker_runs_it_then_it_fails_without_importing(action):
    registry = default_registry(ActionModules(["tests.security.fixture_actions"]))
    outcome = run_attempt(registry, _dispatch(action, {"cmd": "true"}))
    assert outcome.status == "failed"
    assert outcome.error["type"] == "ActionNotAllowed", outcome.error


def test_a_declared_module_function_runs_and_its_imports_classes_and_private_names_do_not():
    registry = default_registry(ActionModules(["tests.security.fixture_actions"]))
    ok = run_attempt(registry, _dispatch("python:tests.security.fixture_actions:double", {"n": 21}))
    assert ok.status == "succeeded" and ok.result == {"n": 42}
    for name, why in [("system", "defines no function 'system'"),      # from os import system
                      ("Helper", "defines no function 'Helper'"),      # a class
                      ("json", "defines no function 'json'")]:         # a module
        out = run_attempt(registry, _dispatch(f"python:tests.security.fixture_actions:{name}"))
        assert out.status == "failed" and out.error["type"] == "UnknownAction" and why in out.error["message"]
    out = run_attempt(registry, _dispatch("python:tests.security.fixture_actions:_private"))
    assert out.status == "failed" and "public function" in out.error["message"]


def test_a_declared_package_covers_its_submodules_but_not_a_namesake_prefix():
    modules = ActionModules(["acme.actions"])
    assert modules.check("python:acme.actions.deploy:run") is None
    assert "not a declared action module" in modules.check("python:acme.actionsx:run")
    assert "not a declared action module" in modules.check("python:acme:run")


@pytest.mark.parametrize("name", ["os", "relayflow", "relayflow.actions", "functions", "builtins", "json.decoder",
                                  "not-a-name"])
def test_the_standard_library_and_relayflow_cannot_be_declared(name):
    with pytest.raises(ValueError):
        ActionModules([name])
    assert ActionModules.declaration_problem(name)


def test_a_module_beside_the_workflow_must_be_loaded_from_that_folder(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text("def hello(payload):\n    return 'hi'\n")
    (tmp_path / "json.py").write_text("def dumps(payload):\n    return 'shadow'\n")  # a stdlib name: never
    modules = ActionModules(folders=[str(tmp_path)])
    assert modules.modules == ("mine",)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert modules.load("python:mine:hello")({}) == "hi"
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "mine2.py").write_text("def hello(payload):\n    return 'other'\n")
    # A folder module whose name resolves to a file outside the folder is refused.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "mine2.py").write_text("")
    monkeypatch.syspath_prepend(str(other))
    with pytest.raises(ActionNotAllowed, match="not from the workflow's folder"):
        ActionModules(folders=[str(fake)]).load("python:mine2:hello")


def test_validate_reports_an_undeclared_action_with_its_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "wf.yaml"
    path.write_text("name: v\ntasks:\n  - name: a\n    action: python:os:system\n    input: {command: id}\n")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: task a: action: python:os:system is not allowed" in err


def test_run_refuses_an_undeclared_action_before_anything_runs(tmp_path, capsys):
    marker = tmp_path / "ran"
    path = tmp_path / "wf.yaml"
    path.write_text(f"name: r\ntasks:\n  - name: a\n    action: python:pathlib:Path.touch\n"
                    f"    input: {{path: {marker}}}\n  - name: b\n    action: python:shutil:rmtree\n")
    assert cli.main(["run", "--backend", "memory", str(path)]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "task b: action: python:shutil:rmtree is not allowed" in err


def test_run_accepts_a_module_declared_with_action_module(tmp_path, capsys):
    path = tmp_path / "wf.yaml"
    path.write_text("name: d\ntasks:\n  - {name: a, action: 'python:tests.security.fixture_actions:double', "
                    "input: {n: 2}}\n")
    assert cli.main(["run", "--backend", "memory", "--json", str(path)]) == 2  # undeclared
    capsys.readouterr()
    assert cli.main(["run", "--backend", "memory", "--json", "--action-module", "tests.security.fixture_actions",
                     str(path)]) == 0
    assert '"result": {"n": 4}' in capsys.readouterr().out


# -- aws.lambda --------------------------------------------------------------------------
@pytest.mark.parametrize("target, allowed", [
    ("prod-action-resize", True), ("prod-action-resize:live", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:prod-action-resize", True),
    ("other-stack-action-resize", False), ("prod-api", False),
    ("arn:aws:lambda:us-east-1:999999999999:function:payroll", False),
    ("prod-action-../x", False), ("", False),
])
def test_aws_lambda_reaches_only_the_stacks_own_prefix(target, allowed):
    assert (lambda_target_problem(target, "prod-action-") is None) is allowed


HOME = "arn:aws:lambda:us-east-1:123456789012:function:prod-action-"  # as the template passes it


@pytest.mark.parametrize("target, allowed", [
    ("prod-action-resize", True), ("prod-action-resize:live", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:prod-action-resize", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:prod-action-resize:live", True),
    # the stack's own function name, in another account or region
    ("arn:aws:lambda:us-east-1:999999999999:function:prod-action-resize", False),
    ("arn:aws:lambda:eu-west-1:123456789012:function:prod-action-resize", False),
    ("arn:aws-cn:lambda:us-east-1:123456789012:function:prod-action-resize", False),
    ("other-stack-action-resize", False), ("123456789012:function:prod-action-resize", False),
])
def test_aws_lambda_with_the_stacks_arn_prefix_stays_in_its_account_and_region(target, allowed):
    problem = lambda_target_problem(target, HOME)
    assert (problem is None) is allowed, problem
    if target.endswith(":999999999999:function:prod-action-resize"):
        assert "own account and region" in problem


def test_aws_lambda_to_another_stack_fails_the_task_before_invoking_and_is_refused_at_registration():
    calls = []
    registry = default_registry(lambda_prefix="prod-action-")
    register_lambda_action(registry, lambda fn, payload: calls.append(fn))
    out = run_attempt(registry, _dispatch("aws.lambda", {"function": "payroll-export", "payload": {}}))
    assert out.status == "failed" and out.error["type"] == "ActionNotAllowed" and calls == []
    ok = run_attempt(registry, _dispatch("aws.lambda", {"function": "prod-action-resize", "payload": {}}))
    assert ok.status == "succeeded" and calls == ["prod-action-resize"]
    spec = load_text("name: l\ntasks:\n  - {name: call, action: aws.lambda, input: {function: payroll-export}}\n")
    problems = admission.problems(spec, registry)
    assert [(p.task, p.field) for p in problems] == [("call", "input.function")]


def test_local_stacks_reach_only_their_registered_functions():
    functions = LocalFunctions()
    registry = default_registry()
    register_lambda_action(registry, functions)
    out = run_attempt(registry, _dispatch("aws.lambda", {"function": "anything"}))
    assert out.status == "failed" and out.error["type"] == "ResourceNotFound"

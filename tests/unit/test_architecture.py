"""The shape DESIGN §1 promises: a pure core, thin handlers, one list of dependencies."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "engine" / "relayflow"
AWS_MODULES = {"boto3", "botocore", "moto", "pynamodb", "aws_lambda_powertools", "aws_xray_sdk"}


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").glob("*.py")) + [PACKAGE / "ports.py", PACKAGE / "engine.py"],
                         ids=lambda p: p.name)
def test_the_core_imports_nothing_from_aws(path):
    assert imported_roots(path) & AWS_MODULES == set()


def test_the_core_imports_no_adapters():
    for path in (PACKAGE / "core").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "adapters" not in source and "local" not in {n.split(".")[0] for n in imported_roots(path)}, path


@pytest.mark.parametrize("name", ["start", "worker", "advance"])
def test_handlers_are_thin_and_use_no_boto3_directly(name):
    path = ROOT / "functions" / name / "app.py"
    assert "boto3" not in imported_roots(path)
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 120


def test_runtime_dependencies_are_listed_once_in_the_layer():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dependencies = {file = ["layers/engine/requirements.txt"]}' in pyproject
    requirements = (ROOT / "layers" / "engine" / "requirements.txt").read_text(encoding="utf-8")
    names = {line.split(">")[0].split("=")[0].strip() for line in requirements.splitlines() if line.strip()}
    assert {"boto3", "aws-lambda-powertools", "pynamodb", "pyyaml", "jinja2"} <= names
    assert "moto" not in names  # the layer never ships the embedded stack's mock


def test_handlers_import_without_sys_path_edits():
    # A fresh interpreter: importing a handler here would build its Powertools objects before
    # a later test's embedded stack sets their environment.
    import subprocess
    import sys

    code = "import functions.advance.app, functions.start.app, functions.worker.app, functions.api.app"
    done = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

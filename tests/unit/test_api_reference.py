"""docs/api.md is generated from the OpenAPI document and must not fall behind it."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_api_reference_matches_the_openapi_document():
    done = subprocess.run([sys.executable, str(ROOT / "infra" / "scripts" / "api_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_api_reference_lists_every_operation():
    from relayflow.api.document import document

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for path, item in document()["paths"].items():
        for method in item:
            if method in ("get", "put", "post", "delete", "patch"):
                assert f"## `{method.upper()} {path}`" in text

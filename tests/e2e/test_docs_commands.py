"""Every command and snippet in README.md and docs/ that can run on this machine still works.

Commands are found in the text itself (fenced blocks and inline code): each
``relayflow run|test|validate|graph`` whose file arguments all exist in the
repository is run as a user would run it, with the installed ``relayflow``
script. ``run`` commands get ``--backend memory`` (which the README says skips
the embedded stack's start-up) except the README's first one, the set-up
command's, which runs as written. The README's server walk-through (serve the
examples, start the approval pipeline, list, status, answer, watch) runs against
a ``relayflow serve`` started for it. Python snippets that name a deployed
stack's resources run against the embedded stack's, under moto.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("relayflow")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"(?:\.venv/bin/)?relayflow (run|test|validate|graph)((?: +(?:'[^'\n]*'|[^\s`|']+))*)")
# Runnable in form, but not here, and why (each still appears in the docs with its reason).
NOT_HERE = {
    "examples/http_integration.yaml": "needs a ticket API at base_url; tests/e2e/test_examples.py runs it against one",
}


def documented_commands() -> list[tuple[str, str, list[str]]]:
    found: dict[str, tuple[str, str, list[str]]] = {}
    for doc in DOCS:
        for m in COMMAND.finditer(doc.read_text(encoding="utf-8")):
            words = shlex.split(m.group(2).split("#", 1)[0])
            files = [w for w in words if not w.startswith("-") and ("/" in w or w.endswith((".yaml", ".yml")))
                     and not w.startswith(("{", "'"))]
            if not files or not all((ROOT / f).exists() for f in files) or any(f in NOT_HERE for f in files):
                continue
            command = f"{m.group(1)} {' '.join(words)}".strip()
            found.setdefault(command, (doc.name, m.group(1), words))
    return [(doc, sub, words) for doc, sub, words in found.values()]


COMMANDS = documented_commands()
FIRST_RUN = "run examples/deploy.yaml"  # the README's set-up command: as written, on the embedded AWS stack


def relayflow(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_the_docs_have_commands_to_run():
    subs = {sub for _, sub, _ in COMMANDS}
    assert {"run", "test"} <= subs, COMMANDS
    assert any(words == ["examples/deploy.yaml"] for _, sub, words in COMMANDS if sub == "run")


@pytest.mark.parametrize("doc,sub,words", COMMANDS, ids=[f"{d}: {s} {' '.join(w)}" for d, s, w in COMMANDS])
def test_a_documented_command_works(doc, sub, words):
    argv = [sub, *words]
    if sub == "run" and " ".join(argv) != FIRST_RUN and "--backend" not in words:
        argv += ["--backend", "memory"]
    out = relayflow(*argv)
    assert out.returncode == 0, f"{doc}: relayflow {' '.join(argv)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    if sub == "run":
        assert "workflow " in out.stdout and " succeeded (execution " in out.stdout


def test_the_readme_server_walk_through(tmp_path):
    """`relayflow serve examples`, then start the approval pipeline, find it, answer it, watch it end."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for said in ("relayflow serve examples", "relayflow start demo.deploy_approval", "relayflow list",
                 "relayflow respond", "relayflow watch ID", "relayflow status ID", "http://127.0.0.1:8080/ui"):
        assert said in readme, said
    server = subprocess.Popen([str(SCRIPT), "serve", "examples", "--port", "0", "--backend", "memory", "--quiet",
                               "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        where = json.loads(server.stdout.readline())
        api = where["url"]
        assert where["console"] == f"{api}/ui"
        started = relayflow("start", "demo.deploy_approval", "--api", api)
        assert started.returncode == 0, started.stderr
        eid = started.stdout.strip()
        listed = relayflow("list", "--api", api)
        assert eid in listed.stdout
        pending = json.loads(relayflow("respond", "--json", "--api", api).stdout)
        for _ in range(100):
            if pending:
                break
            pending = json.loads(relayflow("respond", "--json", "--api", api).stdout)
        (inquiry,) = [i for i in pending if i["execution_id"] == eid]
        status = relayflow("status", eid, "--api", api)
        assert "approve (run 1) running" in status.stdout and f"relayflow respond {inquiry['id']}" in status.stdout
        answered = relayflow("respond", inquiry["id"], "--response",
                             json.dumps({"approved": True, "by": "docs-test"}), "--api", api)
        assert answered.returncode == 0, answered.stderr
        watched = relayflow("watch", eid, "--interval", "0.2", "--api", api, timeout=120)
        assert watched.returncode == 0, watched.stdout + watched.stderr
        assert f"demo.deploy_approval succeeded (execution {eid})" in watched.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_python_snippet_that_registers_a_workflow_runs(tmp_path):
    """deployment.md's DynamoWorkflows snippet, with the stack's names, against the embedded stack."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "DynamoWorkflows" in b]
    from relayflow.local import resources as R
    from relayflow.local.stack import EmbeddedStack

    with EmbeddedStack() as stack:
        code = (snippet.replace("<StateTableName>", R.TABLE).replace("<region>", R.REGION)
                .replace("<PayloadBucketName>", R.BUCKET)
                .replace('"workflows/deploy.yaml"', repr(str(ROOT / "examples" / "deploy.yaml"))))
        assert "<" not in code, code  # every placeholder has a value here
        scope: dict = {}
        exec(compile(code, "docs/deployment.md", "exec"), scope)  # noqa: S102 - the repository's own docs
        assert stack.runtime.workflows.get("demo.deploy").name == "demo.deploy"
        assert scope["version"]

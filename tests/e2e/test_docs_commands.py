"""Every command in README.md, docs/ and bench/README.md still works, or is listed here with
the reason it cannot run on this machine.

Commands are found in the text itself: each line of a fenced block and each inline code
span that starts with ``relayflow``, ``python``, ``pip``, ``sam``, ``aws`` or ``curl``
(``a && b`` is two commands). Each is then, in this order:

- **listed** in ``NOT_HERE`` with its reason (it needs an AWS account, or it is the set-up
  this test already runs in);
- a **mention** in prose (``relayflow test``, ``relayflow run --json``): the subcommand
  must exist and accept every flag the text gives it (checked with ``--help``);
- **run** as a user would, with the installed ``relayflow`` script: usage synopses lose
  their optional ``[...]`` parts and are expanded over their alternatives
  (``pause|resume|cancel``), and each placeholder gets a real value (``ID`` an execution
  of the right kind from a real run, ``URL`` a ``relayflow serve`` started for the test,
  ``WORKFLOW.yaml`` an example); ``serve`` and ``console`` are started, asked for the
  console page and stopped; ``respond ID`` answers its prompts on a terminal (a pty);
  bench commands run with their smallest size options (``SMALLEST``).

A command that is none of these (a new program, an unknown placeholder) fails
``test_every_documented_command_is_run_or_listed``: add it to the docs' runnable forms or to
``NOT_HERE`` with a reason.
"""
from __future__ import annotations

import glob
import json
import os
import pty
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("relayflow")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
PROGRAM = re.compile(r"^(?:\$ )?((?:\.venv/bin/)?(?:relayflow|python3?|pip|sam|aws|curl) .*|(?:\.venv/bin/)?relayflow)$")
SKIPPED_BLOCKS = ("yaml", "yml", "json", "python", "text", "mermaid", "dot")

# What cannot run here, and why. Matched against the start of each command.
NOT_HERE: dict[str, str] = {
    "sam ": "SAM builds and deploys to an AWS account; tests/infra checks template.yaml offline "
            "(cfn-lint and the SAM transform)",
    "aws ": "the AWS CLI against a deployed stack's resources (an account and a stack)",
    'relayflow doctor --api "$(aws ': "reads the API's URL from a deployed stack with the AWS CLI; "
                                      "`relayflow doctor --api URL` itself runs here against a local server",
    "python3 -m venv .venv": "creates the virtualenv this test already runs in",
    ".venv/bin/pip install ": "installs the package this test already runs from",
    ".venv/bin/python -m pytest -n auto --dist worksteal": "the whole test suite, which this test is part of (CI runs it)",
    "relayflow run examples/http_integration.yaml": "needs a ticket API at base_url; tests/e2e/test_examples.py "
                                                    "runs it against one",
}
FIRST_RUN = "relayflow run examples/deploy.yaml"  # the README's set-up command: as written, on the embedded AWS stack
# Each bench with the options that make it smallest (sizes, cases), appended to the documented ones.
SMALLEST: dict[str, list[str]] = {
    "bench/engine.py": ["--max-n", "10"],
    "bench/cost.py": ["--max-n", "5"],
    "bench/serve_latency.py": ["--items", "20", "--interval", "0.1"],
    "bench/faults.py": ["--limit", "1", "--jobs", "1"],
}
API_COMMANDS = {"start", "status", "watch", "history", "cost", "pause", "resume", "cancel", "redrive", "respond",
                "list", "register", "console", "doctor", "items"}
# "start|status|... ..." in a synopsis: each one's own arguments
OWN_ARGS = {"start": ["demo.deploy_approval"], "register": [], "respond": [], "list": [], "console": [], "doctor": []}
PLACEHOLDERS = {
    "WORKFLOW.yaml": "examples/deploy.yaml", "workflow.yaml": "examples/deploy.yaml", "wf.yaml": "examples/deploy.yaml",
    "FILE": "examples/deploy.yaml", "FILE...": "examples/deploy.yaml", "TEST.yaml": "examples/tests/deploy_approval_test.yaml",
    "FOLDER": "examples", "WORKFLOW_DIR": "examples", "NAME": "demo.deploy", "TEXT": "noted by the docs test",
    "STATUS": "running", "N": "5", "TASK": "each",  # (items: the with_items task of docs.items)
}
ID_WORDS = ("ID", "EXECUTION", "62e84cecd2e6498392bec0ee3f439711")
URL_WORDS = ("URL", "<ApiUrl>", "https://...")


def relayflow(*argv: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# -- finding the commands -----------------------------------------------------------------------
def snippets() -> list[tuple[str, str]]:
    """(doc, command) for every command-looking line and code span, in the order the docs give them."""
    out: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for lang, body in re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", text, re.S | re.M):
            if lang in SKIPPED_BLOCKS:
                continue
            for line in re.sub(r"\\\n\s*", " ", body).splitlines():
                line = re.sub(r"\s+#.*$", "", line.strip())
                m = PROGRAM.match(line)
                if m:
                    out += [(doc.name, part.strip()) for part in m.group(1).split(" && ")]
        prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.S | re.M)
        for span in re.findall(r"`([^`]+)`", prose):
            m = PROGRAM.match(" ".join(span.split()))
            if m:
                out += [(doc.name, part.strip()) for part in m.group(1).split(" && ")]
    seen: set[str] = set()
    return [(d, c) for d, c in out if not (c in seen or seen.add(c))]


@dataclass
class Plan:
    """What to do with one documented command."""

    doc: str
    command: str
    kind: str  # listed | mention | run | unknown
    why: str = ""
    runs: list[list[str]] = field(default_factory=list)  # argv lists (each starting with the program)


def _unbracket(words: str) -> str:
    while True:
        shorter = re.sub(r"\s*\[[^\[\]]*\]", "", words)
        if shorter == words:
            return words
        words = shorter


def plan(doc: str, command: str) -> Plan:
    for prefix, reason in NOT_HERE.items():
        if command.startswith(prefix):
            return Plan(doc, command, "listed", reason)
    words = shlex.split(_unbracket(command.removeprefix(".venv/bin/")))
    program = words[0]
    if program in ("python", "python3") and len(words) > 1 and words[1].startswith("bench/"):
        script = words[1]
        if script not in SMALLEST:
            return Plan(doc, command, "unknown", f"a bench with no smallest form in SMALLEST: {script}")
        return Plan(doc, command, "run", runs=[["python", *words[1:], *SMALLEST[script]]])
    if program in ("python", "python3") and len(words) > 1 and words[1].startswith("infra/scripts/"):
        return Plan(doc, command, "run", runs=[["python", *words[1:]]])
    if program == "curl":
        return Plan(doc, command, "run", runs=[words])
    if program != "relayflow":
        return Plan(doc, command, "unknown", f"no rule for {program}")
    subs = words[1].split("|") if len(words) > 1 else ["..."]
    rest = words[2:]
    if "..." in subs:  # "relayflow ... --api URL": the flags every API command takes
        return Plan(doc, command, "mention", runs=[["relayflow", "status", "--help", *_flags(rest)]])
    if not rest and all(sub in NEEDS_ARG | {"doctor", "console"} for sub in subs) or \
            "..." not in rest and not _positionals(rest) and all(sub in NEEDS_ARG for sub in subs):
        # a subcommand named in prose (bare, or with flags but not what it works on)
        return Plan(doc, command, "mention", runs=[["relayflow", sub, "--help", *_flags(rest)] for sub in subs])
    runs = []
    for sub in subs:
        argv: list[str] = []
        for w in rest:
            argv += OWN_ARGS.get(sub, ["ID"] if sub in API_COMMANDS else []) if w == "..." else [w]
        out = ["relayflow", sub]
        for i, w in enumerate(argv):
            prev = argv[i - 1] if i else ""
            if prev == "--port":
                w = "0"
            elif "|" in w:
                w = w.split("|")[0]
            if w == "path/to/*.yaml":
                out += sorted(os.path.relpath(f, ROOT) for f in glob.glob(str(ROOT / "examples" / "*.yaml")))
                continue
            if prev == "--input" and w == "JSON":
                w = "{}"
            elif prev == "--response" and w == "JSON":
                w = json.dumps({"approved": False, "by": "docs-test"})
            out.append(PLACEHOLDERS.get(w, w))
        left = [w for w in out[2:] if re.fullmatch(r"[A-Z_]{2,}|<[^>]*>|.*\.\.\.", w)
                and w not in ID_WORDS + URL_WORDS]
        if left:
            return Plan(doc, command, "unknown", f"placeholders with no value here: {left}")
        runs.append(out)
    return Plan(doc, command, "run", runs=runs)


NEEDS_ARG = {"run", "test", "validate", "graph", "status", "watch", "history", "cost", "pause", "resume", "cancel",
             "redrive", "start", "register", "items"}
SWITCHES = {"--json", "--real-time", "--quiet", "--token", "--help"}  # flags that take no value


def _flags(words: list[str]) -> list[str]:
    return [w for w in words if w.startswith("--")]


def _positionals(words: list[str]) -> list[str]:
    """The arguments that are not flags nor flags' values (--execution ID names an execution too)."""
    out, i = [], 0
    while i < len(words):
        w = words[i]
        if w.startswith("-"):
            if w == "--execution":
                out.append(w)
            i += 1 if w in SWITCHES or "=" in w else 2
            continue
        out.append(w)
        i += 1
    return out


PLANS = [plan(doc, command) for doc, command in snippets()]
RUNNABLE = [p for p in PLANS if p.kind in ("run", "mention")]


def test_the_docs_have_commands_to_run():
    commands = {p.command for p in PLANS}
    assert FIRST_RUN in commands and "relayflow serve examples" in commands
    assert any(p.command.startswith(".venv/bin/python bench/") for p in PLANS)  # bench/README.md's
    assert {p.kind for p in PLANS} >= {"listed", "mention", "run"}
    assert len(RUNNABLE) > 40, [p.command for p in RUNNABLE]


def test_every_documented_command_is_run_or_listed():
    unknown = [f"{p.doc}: {p.command}: {p.why}" for p in PLANS if p.kind == "unknown"]
    assert not unknown, "documented commands neither runnable here nor listed in NOT_HERE:\n" + "\n".join(unknown)
    # and every listed reason is still used by some command (no stale excuses)
    used = {prefix for prefix in NOT_HERE for p in PLANS if p.kind == "listed" and p.command.startswith(prefix)}
    assert used == set(NOT_HERE), set(NOT_HERE) - used


def test_the_planner_refuses_what_it_cannot_run():
    """The check above is real: a new program, or a placeholder with no value, is unknown."""
    assert plan("x.md", "kubectl apply -f relayflow.yaml").kind == "unknown"
    assert plan("x.md", "relayflow status ID --region REGION").kind == "unknown"
    assert plan("x.md", ".venv/bin/python bench/new.py").kind == "unknown"
    assert plan("x.md", "relayflow pause|resume ID").runs == [["relayflow", "pause", "ID"], ["relayflow", "resume", "ID"]]


# -- running them -------------------------------------------------------------------------------
class Served:
    """`relayflow serve examples` on a free port (memory backend), with executions of every kind."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen([str(SCRIPT), "serve", "examples", "--port", "0", "--backend", "memory",
                                      "--quiet", "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = json.loads(self.proc.stdout.readline())["url"]
        self.put("docs.quick", "name: docs.quick\ntasks:\n  - {name: only, action: core.echo, input: {v: 1}}\n")
        self.put("docs.broken", "name: docs.broken\ntasks:\n  - {name: only, action: core.fail, "
                                "input: {message: broken on purpose}}\n")
        self.put("docs.items", "name: docs.items\ntasks:\n  - {name: each, action: core.echo, "
                               "with_items: [1, 2, 3], input: {v: '{{ item }}'}}\n")
        self.done = self.wait_for(self.start("docs.quick"), "succeeded")

    def call(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> Any:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": ctype} if data is not None else {})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def put(self, name: str, text: str) -> None:
        self.call("PUT", f"/workflows/{name}", text, "application/yaml")

    def start(self, workflow: str) -> str:
        return self.call("POST", f"/workflows/{workflow}/executions", {})["execution_id"]

    def wait_for(self, eid: str, status: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while self.call("GET", f"/executions/{eid}/graph")["status"] != status:
            assert time.monotonic() < deadline, f"{eid} never became {status}"
            time.sleep(0.1)
        return eid

    def inquiry(self, eid: str) -> str:
        deadline = time.monotonic() + 60
        while True:
            pending = [i for i in self.call("GET", "/inquiries?status=pending")["inquiries"] if i["execution_id"] == eid]
            if pending:
                return pending[0]["id"]
            assert time.monotonic() < deadline, "the approval never opened"
            time.sleep(0.1)

    def id_for(self, sub: str) -> str:
        """An execution (or inquiry) the subcommand can act on, as a user would have one."""
        if sub in ("pause", "cancel"):
            return self.start("demo.deploy_approval")
        if sub == "resume":
            eid = self.start("demo.deploy_approval")
            self.call("POST", f"/executions/{eid}/pause", {"reason": "to resume"})
            return self.wait_for(eid, "paused")
        if sub == "redrive":
            return self.wait_for(self.start("docs.broken"), "failed")
        if sub == "respond":
            return self.inquiry(self.start("demo.deploy_approval"))
        if sub == "items":
            return self.wait_for(self.start("docs.items"), "succeeded")
        return self.done

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("docs"))
    yield s
    s.close()


def _started_then_stopped(argv: list[str], env: dict[str, str]) -> None:
    """serve / console: started, asked for the console page where it says it is, stopped."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        said = ""
        for _ in range(5):  # it says where the console is within its first lines
            said += proc.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+/ui", said)
            if found:
                break
        assert found, (said, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(found[0], timeout=60) as resp:
            assert resp.status == 200 and b"relayflow console" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _respond_on_a_terminal(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """`relayflow respond ID` with no --response: it shows the schema and asks, field by field."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        os.write(master, b"true\ndocs-test\n\n")  # approved, by, comment (optional: left out)
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    assert "the answer must match this schema" in err, err
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


_RAN: set[tuple[str, ...]] = set()  # what already ran, placeholders as written: a repeat is skipped


@pytest.mark.parametrize("p", RUNNABLE, ids=[f"{p.doc}: {p.command}" for p in RUNNABLE])
def test_a_documented_command_works(p: Plan, served: Served):
    env = {**os.environ, "RELAYFLOW_API": served.url}
    for argv in p.runs:
        key = tuple("URL" if a in URL_WORDS else "ID" if a in ID_WORDS else a for a in argv)
        if key in _RAN:
            continue
        _RAN.add(key)
        program, *args = argv
        if p.kind == "mention":  # the subcommand exists and takes the flags the prose gives it
            out = relayflow(*args, env=env)
            assert out.returncode == 0, out.stderr
            assert all(flag in out.stdout for flag in args if flag.startswith("--") and flag != "--help"), out.stdout
            continue
        sub = args[0] if program == "relayflow" and args else ""
        args = [served.url if a in URL_WORDS else served.id_for(sub) if a in ID_WORDS else a for a in args]
        if program == "python":
            out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=1200,
                                 env=env)
        elif program == "curl":
            wf = served.tmp / "wf.yaml"
            wf.write_text("name: docs.curl\ntasks:\n  - {name: only, action: core.noop}\n")
            args = [re.sub(r"^localhost:8080", served.url, a).replace("/workflows/NAME", "/workflows/docs.curl")
                    .replace("@wf.yaml", f"@{wf}") for a in args]
            out = subprocess.run(["curl", "--silent", "--show-error", "--fail", *args], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120, env=env)
            assert json.loads(out.stdout)["name"] == "docs.curl", out.stdout
        elif sub in ("serve", "console"):  # on any free port: 8080 may be taken on this machine
            _started_then_stopped([str(SCRIPT), *args, *([] if "--port" in args else ["--port", "0"])], env)
            continue
        elif sub == "respond" and len(args) > 1 and "--response" not in args:
            out = _respond_on_a_terminal([str(SCRIPT), *args], env)
        else:
            if sub == "run" and " ".join(argv) != FIRST_RUN and "--backend" not in args:
                args += ["--backend", "memory"]
            if sub == "doctor":
                args += ["--timeout", "300"]
            out = relayflow(*args, env=env)
        assert out.returncode == 0, f"{p.doc}: {' '.join(argv)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
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

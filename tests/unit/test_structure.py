"""The package's structure: no import cycle between its modules, no module over 500 lines,
every Lambda handler a thin adapter under 80 lines. Each test names its offenders."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "engine" / "relayflow"
MAX_MODULE_LINES = 500
MAX_HANDLER_LINES = 80
# Import cycles that exist and are to be untied: a ratchet. A new cycle fails the test, and so
# does one listed here that is gone (remove it from the list).
KNOWN_CYCLES: list[list[str]] = []


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_level_imports(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports when it is imported (imports inside functions, and
    under ``if TYPE_CHECKING``, run later or never: they cannot make a cycle at import time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(name, path.name == "__init__.py", node)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:  # `from .x import name`: the module is .x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycle():
    found = modules()
    graph = {name: module_level_imports(name, path, set(found)) for name, path in found.items()}
    # a package's __init__ importing its own modules is how it exports them, not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not (found[m].name == "__init__.py" and name.startswith(m + "."))}
    found_cycles = cycles(graph)
    assert [c for c in found_cycles if c not in KNOWN_CYCLES] == []
    assert [c for c in KNOWN_CYCLES if c not in found_cycles] == [], "untied: remove it from KNOWN_CYCLES"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_500_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert sizes, "no modules found"
    offenders = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert offenders == {}


def test_lambda_handlers_are_under_80_lines():
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert {p.parent.name for p in handlers} >= {"start", "worker", "advance", "api", "reconcile"}
    lengths = {p.parent.name: len(p.read_text(encoding="utf-8").splitlines()) for p in handlers}
    assert {name: n for name, n in lengths.items() if n >= MAX_HANDLER_LINES} == {}


def test_every_package_declares_its_public_names():
    # a reader (and `from relayflow.x import *`) learns a package's API from its __all__
    import importlib
    import importlib.util
    missing, dangling = [], {}
    for name, path in modules().items():
        if path.name != "__init__.py":
            continue
        package = importlib.import_module(name)
        if not hasattr(package, "__all__"):
            missing.append(name)
            continue
        # a name in __all__ is an attribute or a submodule (`import *` imports those)
        absent = [n for n in package.__all__
                  if not hasattr(package, n) and importlib.util.find_spec(f"{name}.{n}") is None]
        if absent:
            dangling[name] = absent
    assert missing == [] and dangling == {}

"""The task graph: edges, entries, cycles, reachability and the drawings (core/graph.py)."""
from __future__ import annotations

import re

import pytest

from relayflow.core import graph
from relayflow.core.loader import load_text


def succ(**edges: str) -> dict[str, tuple[str, ...]]:
    """succ(a="b c", b="") -> {"a": ("b", "c"), "b": ()}."""
    return {name: tuple(targets.split()) for name, targets in edges.items()}


# --- in_cycles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("g, expected", [
    (succ(a="b", b="c", c=""), set()),                              # a chain
    (succ(a="b c", b="d", c="d", d=""), set()),                     # a diamond
    (succ(a="a"), {"a"}),                                           # a self loop
    (succ(a="b", b="a"), {"a", "b"}),                               # two tasks
    (succ(s="a", a="b", b="c", c="a d", d=""), {"a", "b", "c"}),   # a loop with a way in and out
    (succ(a="b", b="a", c="d", d="c e", e=""), {"a", "b", "c", "d"}),  # two separate loops
    (succ(a="b", b="c", c="b a"), {"a", "b", "c"}),                 # nested loops share one component
    (succ(a="b", b="", c="b"), set()),                              # two roots into one task
    (succ(a="b", b="a c", c="d", d="", e="c"), {"a", "b"}),         # tasks after a loop are on none
    (succ(s="a", a="b", b="a", t="b"), {"a", "b"}),                 # two ways into a loop
], ids=["chain", "diamond", "self-loop", "pair", "loop-with-tail", "two-loops", "nested", "two-roots",
        "after-a-loop", "into-a-loop"])
def test_in_cycles(g: dict[str, tuple[str, ...]], expected: set[str]) -> None:
    assert graph.in_cycles(g) == expected


def test_in_cycles_are_the_tasks_that_lead_back_to_themselves() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        names = [f"t{i}" for i in range(rng.randint(1, 8))]
        g = {n: tuple(rng.sample(names, rng.randint(0, min(2, len(names))))) for n in names}
        on_a_cycle = {n for n in names if n in graph.reachable(g, g[n])}
        assert graph.in_cycles(g) == on_a_cycle, g


def test_in_cycles_on_a_long_chain_does_not_recurse() -> None:
    n = 20_000
    g = {f"t{i}": (f"t{i + 1}",) for i in range(n)}
    g[f"t{n}"] = ()
    assert graph.in_cycles(g) == set()
    g[f"t{n}"] = ("t0",)
    assert graph.in_cycles(g) == set(g)


# --- reachable, inbound, entries ----------------------------------------------------------------


def test_reachable_follows_edges_from_the_start_set() -> None:
    g = succ(a="b", b="c", c="", d="c", e="e")
    assert graph.reachable(g, ["a"]) == {"a", "b", "c"}
    assert graph.reachable(g, ["d"]) == {"d", "c"}
    assert graph.reachable(g, ["a", "e"]) == {"a", "b", "c", "e"}
    assert graph.reachable(g, []) == set()


def test_reachable_terminates_on_loops() -> None:
    assert graph.reachable(succ(a="b", b="a c", c=""), ["a"]) == {"a", "b", "c"}


def test_inbound_lists_distinct_sources_in_declaration_order() -> None:
    g = succ(a="c", b="c", c="", d="")
    assert graph.inbound(g) == {"a": (), "b": (), "c": ("a", "b"), "d": ()}


def test_entries_are_tasks_nothing_points_to_in_declaration_order() -> None:
    g = succ(z="x", a="x", x="", y="y")
    assert graph.entries(graph.inbound(g)) == ("z", "a")
    assert graph.entries(graph.inbound(succ(a="b", b="a"))) == ()


def test_edges_are_distinct_known_targets_from_every_transition_style() -> None:
    spec = load_text("""
name: g
tasks:
  - name: a
    action: core.noop
    on_success: b
    on_failure: [c, b]
    decision:
      - {when: "{{ result() }}", next: d}
      - {default: true, next: c}
    next:
      - do: [d, e]
  - {name: b, action: core.noop}
  - {name: c, action: core.noop}
  - {name: d, action: core.noop, join: all}
  - {name: e, action: core.noop}
""")
    edges = graph.edges(spec.tasks)
    assert edges["a"] == ("b", "c", "d", "e")
    assert all(edges[n] == () for n in "bcde")
    assert graph.inbound(edges)["d"] == ("a",)


# --- drawings ---------------------------------------------------------------------------------------

DRAWN = load_text("""
name: demo.draw
tasks:
  - name: build
    action: core.echo
    on_success: [test, "lint"]
    on_failure: notify
  - name: test
    action: core.noop
    on_success: deploy
  - name: lint
    action: core.noop
    next:
      - when: "{{ result() }}"
        do: deploy
  - name: deploy
    workflow: child.deploy
    join: all
    decision:
      - {when: "{{ result().ok }}", next: notify}
  - name: notify
    action: core.noop
""")
EDGES = {("build", "test"), ("build", "lint"), ("build", "notify"), ("test", "deploy"), ("lint", "deploy"),
         ("deploy", "notify")}


def test_mermaid_has_every_task_and_edge() -> None:
    text = graph.to_mermaid(DRAWN)
    assert text.startswith("flowchart TD\n")
    ids = dict(re.findall(r'^  (t\d+)[\[(]+"([\w.]+)<br/>', text, re.M))
    assert sorted(ids.values()) == sorted(DRAWN.tasks)
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^  (t\d+) -->(?:\|[^|]*\|)? (t\d+)$", text, re.M)}
    assert edges == EDGES
    assert '-->|"on_success"|' in text and "workflow child.deploy" in text


def test_mermaid_colours_nodes_by_status() -> None:
    text = graph.to_mermaid(DRAWN, {"build": "succeeded", "notify": "failed"})
    assert "style t0 fill:#c8f7c5" in text and "style t4 fill:#f7c5c5" in text


def test_dot_has_every_task_and_edge() -> None:
    text = graph.to_dot(DRAWN)
    assert text.startswith('digraph "demo.draw" {') and text.rstrip().endswith("}")
    nodes = set(re.findall(r'^  "([\w.]+)" \[label=', text, re.M))
    assert nodes == set(DRAWN.tasks)
    assert set(re.findall(r'^  "([\w.]+)" -> "([\w.]+)"', text, re.M)) == EDGES
    assert '"build" [label="build\\ncore.echo"];' in text  # a two-line label, written with \n
    assert "\n\n" not in text

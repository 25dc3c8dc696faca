"""The quick YAML reading (core.yamlfast) against the precise one (core.yamlpos).

A plain document read the quick way must give the same data and the same line for
every path; anything the precise reading refuses, or reads with rules the quick one
does not apply (anchors, aliases, tags, merge keys), must be handed over to it, so
that the limits (duplicate keys, alias bombs, deep nesting, one document) and their
messages stay the precise reading's.
"""
from __future__ import annotations

import glob
import os
import sys

import pytest
import yaml

from relayflow.core import yamlfast, yamlpos
from relayflow.core.loader import parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import engine as bench_engine  # noqa: E402  (bench/engine.py: the benchmark's workflows)

PLAIN = {
    "flow and block": "name: demo\ntasks:\n  - {name: a, action: core.echo, input: {x: [1, 2.5, true, null]}}\n"
                      "  - name: b\n    action: core.noop\n",
    "scalars of every kind": "a: 0x1F\nb: 1_000\nc: .inf\nd: -.nan\ne: yes\nf: Off\ng: ~\nh:\ni: 2020-01-02\n"
                             "j: 2020-01-02T03:04:05Z\nk: '1'\nl: \"true\"\nm: 0o17\nn: +12\no: -3.5e3\np: 1:20\n",
    "block scalars": "a: |\n  two\n  lines\nb: >\n  folded\n  text\nc: plain\n  continued\n",
    "scalar keys": "1: one\n2.5: two\nfalse: three\nnull: four\n'1': five\n",
    "nested lists": "a:\n- - 1\n  - [2, [3, {b: c}]]\n- {}\n- []\n",
    "a scalar document": "just text\n",
    "a list document": "- a\n- b\n",
    "comments and blank lines": "# top\n\nname: x   # trailing\n\n\ntasks: []\n",
    "tasks as a map": "name: m\ntasks:\n  a:\n    action: core.noop\n    on_success: b\n  b: {action: core.noop}\n",
    "an explicit document": "---\nname: d\ntasks: []\n...\n",
    "an anchor nothing refers to": "a: &x {b: 1}\nc: &y [1, 2]\nd: &z text\n",
    "integers": "a: [0, 7, 10, 123456789012345678901234567890, 0755, 1_0, -5, +5, 0b101, 0x_1F, 190:20:30]\n",
    "unicode": "name: ünï\ndescription: \"snow ☃ and \\u00e9\"\ntasks: []\n",
    "a sequence workflow": bench_engine.sequence(20),
    "nesting as deep as the quick reading goes": "x: " + "[" * (yamlfast.MAX_DEPTH - 1) + "]" * (yamlfast.MAX_DEPTH - 1),
    "digits and almost-digits": "a: [7, 07, 0, 10, '10', \"10\", 1e3, 1_0, ١٢, ²]\nb: {10: x, 013: y}\n",
    "a fan-out workflow": bench_engine.fanout(20),
    "a with_items workflow": bench_engine.items(20),
}

# What the quick reading hands over: the precise reading refuses it, or reads it with rules
# (anchors, merge keys, tags) that only it applies.
HANDED_OVER = {
    "duplicate key": "name: a\nname: b\n",
    "duplicate key in a task": "tasks:\n  - name: a\n    action: x\n    action: y\n",
    "duplicate equal keys": "1: a\ntrue: b\n",
    "a list as a key": "? [a, b]\n: c\n",
    "a mapping as a key": "? {a: b}\n: c\n",
    "a date as a key": "2020-01-01: x\n",
    "recursive alias": "name: demo\nloop: &x [1, *x]\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)),
    "anchor and alias": "a: &x {b: 1}\nc: *x\n",
    "an alias to a scalar": "a: &x 1\nb: *x\n",
    "merge key": "d: &d {action: core.echo}\ntasks:\n  - <<: *d\n    name: a\n",
    "a plain merge key without alias": "a:\n  <<: {b: 1}\n",
    "deep nesting": "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "nesting past the quick reading's depth": "x: " + "[" * (yamlfast.MAX_DEPTH + 1) + "]" * (yamlfast.MAX_DEPTH + 1),
    "nesting one past the quick reading's depth": "x: " + "[" * yamlfast.MAX_DEPTH + "]" * yamlfast.MAX_DEPTH,
    "python tag": "a: !!python/name:os.system\n",
    "python tag on a list": "a: !!python/object/apply:os.system ['true']\n",
    "custom tag": "a: !thing 1\n",
    "explicit str tag": "a: !!str 1\n",
    "explicit set": "a: !!set {x, y}\n",
    "value key": "=: x\n",
    "yaml tag character": "a: !\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "empty": "",
    "only a comment": "# nothing\n",
    "syntax error": "name: demo\ntasks:\n  - name: a\n    input: {x: 1\n  - name: b\n",
    "bad indentation": "name: demo\ntasks:\n  - name: a\n     action: core.noop\n",
    "tab indentation": "a:\n\tb: 1\n",
    "unclosed quote": "a: 'open\n",
    "invalid date": "a: 2020-13-45\n",
    "too many values": "a: [" + ", ".join(["1"] * (yamlpos.MAX_VALUES + 1)) + "]\n",
    "an integer of more digits than Python converts": "a: " + "7" * 5000 + "\n",
}


def fixture_texts() -> dict[str, str]:
    """The repository's own workflow files: examples, end-to-end fixtures, scenario workflows."""
    out = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.yaml"), recursive=True)
                       + glob.glob(os.path.join(ROOT, "tests", "e2e", "fixtures", "**", "*.yaml"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            out[os.path.relpath(path, ROOT)] = fh.read()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "scenarios", "*.yaml"))):
        with open(path, encoding="utf-8") as fh:
            cases = yaml.safe_load(fh)
        for i, case in enumerate(cases or []):
            if isinstance(case, dict) and isinstance(case.get("workflow"), dict):
                out[f"{os.path.relpath(path, ROOT)}#{i}"] = yaml.safe_dump(case["workflow"], sort_keys=False)
    return out


def every_path(data: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += every_path(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += every_path(v, path + (i,))
    return out


def assert_same_reading(text: str) -> None:
    quick = yamlfast.load(text)
    assert quick is not None, "a plain document is read the quick way"
    data, lines = yamlpos.load(text)
    assert quick[0] == data or (data != data)  # NaN is unequal to itself; compared by repr below
    assert repr(quick[0]) == repr(data)
    assert [type(v) for v in every_path(quick[0])] == [type(v) for v in every_path(data)]
    paths = every_path(data)
    # every path, and paths that lead nowhere: below a scalar, past a list's end, a missing key,
    # a key equal to an index (True is 1): both give the nearest ancestor's line
    probes = paths + [p + extra for p in paths for extra in (("missing",), (0,), (True,), (1.0,), (99,), (-1,))]
    for p in probes:
        assert yamlfast.TreeLines.line_of(quick[1], p) == yamlpos.line_of(lines, p), p


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_documents_read_the_same_both_ways(name: str) -> None:
    assert_same_reading(PLAIN[name])


def test_the_repositorys_workflows_read_the_same_both_ways() -> None:
    texts = fixture_texts()
    assert len(texts) > 30  # examples, attune fixtures and scenario workflows
    for name, text in texts.items():
        try:
            assert_same_reading(text)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


@pytest.mark.parametrize("name", sorted(HANDED_OVER))
def test_what_the_quick_reading_does_not_apply_goes_to_the_precise_one(name: str) -> None:
    text = HANDED_OVER[name]
    assert yamlfast.load(text) is None
    # and the loader reports exactly what the precise reading reports, on the same line
    assert parse(text, "wf.yaml") == parse(text, "wf.yaml", precise=True)


@pytest.mark.parametrize("name, wanted", [
    ("duplicate key in a task", (4, "invalid YAML: duplicate key 'action'")),
    ("recursive alias", (2, "invalid YAML: an alias refers to a value that contains it")),
    ("alias bomb", (None, f"more than {yamlpos.MAX_VALUES} values")),
    ("too many values", (None, f"more than {yamlpos.MAX_VALUES} values")),
    ("python tag", (1, "invalid YAML: could not determine a constructor")),
    ("two documents", (2, "expected a single document")),
    ("invalid date", (1, "invalid YAML: month must be in 1..12")),
    ("a list as a key", (1, "invalid YAML: mapping keys must be scalars")),
    ("an integer of more digits than Python converts", (1, "invalid YAML: Exceeds the limit")),
])
def test_the_precise_reading_still_refuses_with_its_line(name: str, wanted: tuple[int | None, str]) -> None:
    spec, problems = parse(HANDED_OVER[name], "wf.yaml")
    (p,) = problems
    assert spec is None and p.field == "yaml" and wanted[1] in p.message, p
    if wanted[0] is not None:
        assert p.line == wanted[0], p


def test_the_value_limit_is_the_precise_readings() -> None:
    # a mapping, a list and its items: exactly the limit is read the quick way, one more is not
    at_limit = "a: [" + ", ".join(["1"] * (yamlpos.MAX_VALUES - 2)) + "]\n"
    quick = yamlfast.load(at_limit)
    assert quick is not None and len(quick[0]["a"]) == yamlpos.MAX_VALUES - 2
    assert yamlfast.load(at_limit.replace("[", "[1, ", 1)) is None


def test_a_reading_leaves_no_cycle_behind() -> None:
    # the reading's containers and lines are freed with the data, not when the collector next runs
    import gc

    text = bench_engine.sequence(3)
    gc.collect()
    gc.disable()
    try:
        quick = yamlfast.load(text)
        assert quick is not None
        del quick
        assert gc.collect() == 0  # nothing was left for the collector to find
    finally:
        gc.enable()


"""The line-based reading of block YAML (core.yamlblock) against libyaml's readings.

The reading is tried first on every workflow file, which is untrusted input: for any
text it must either hand over (None) or give exactly what libyaml's readings give: the
same data, of the same types, and the same line for every path. The heart of these
tests is that comparison, on the repository's own YAML, on the benchmark's workflows and
on thousands of generated documents near the edges of what the reading accepts. Beside
it: that the workflows it exists for are read here and not handed over, and that each
construct it leaves to libyaml is handed over.
"""
from __future__ import annotations

import functools
import glob
import math
import os
import random
import re
import sys
from typing import Any

import pytest

from relayflow.core import yamlblock, yamlfast, yamlpos

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine as bench_engine  # noqa: E402  (bench/engine.py: the benchmark's workflows)
import test_yamlfast  # noqa: E402  (its documents: plain ones and those handed over)


def same_value(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (True is not 1, 1.0 is not 1), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(type(k) is type(kb) for k, kb in zip(a, b, strict=True)) \
            and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def compare(text: str) -> bool:
    """Check the block reading of ``text`` against libyaml's; True when it read the text itself."""
    block = yamlblock.load(text)
    if block is None:
        return False
    try:
        data, lines = yamlpos.load(text)
    except yamlpos.YamlSyntaxError as exc:
        raise AssertionError(f"read a text libyaml refuses ({exc}):\n{text}") from None
    assert same_value(block[0], data), f"read otherwise: {block[0]!r} != {data!r}\n{text}"
    events = yamlfast.load_with_libyaml(text)
    if events is not None:
        assert same_value(block[0], events[0]), f"{block[0]!r} != {events[0]!r}\n{text}"
    paths = test_yamlfast.every_path(data)
    probes = paths + [p + extra for p in paths for extra in (("missing",), (0,), (99,))]
    for path in probes:
        want = yamlpos.line_of(lines, path)
        assert block[1].line_of(path) == want, f"line of {path}: {block[1].line_of(path)} != {want}\n{text}"
        if events is not None:
            assert events[1].line_of(path) == want
    # an entry's line asked of its own container, as the loader asks it
    for path in paths[1:]:
        parent = block[0]
        for step in path[:-1]:
            parent = parent[step]
        want = yamlpos.line_of(lines, path)
        assert block[1].entry_line(parent, path[-1]) == want, f"entry line of {path}\n{text}"
        assert block[1].lines_in(parent)[path[-1]] + 1 == want, f"lines in the container of {path}\n{text}"
        assert block[1].entry_line(dict(parent) if isinstance(parent, dict) else list(parent), path[-1]) is None
        assert block[1].entry_line(parent, "missing" if isinstance(parent, dict) else len(parent)) is None
    return True


@functools.cache
def repository_texts() -> dict[str, str]:
    """Every workflow YAML of the repository: examples, fixtures, scenario files and their
    workflows, and the YAML blocks of the README and the docs."""
    out = dict(test_yamlfast.fixture_texts())
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "scenarios", "*.yaml"))):
        with open(path, encoding="utf-8") as fh:
            out[os.path.relpath(path, ROOT)] = fh.read()
    for path in [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(path, encoding="utf-8") as fh:
            blocks = re.findall(r"^```yaml\n(.*?)^```", fh.read(), flags=re.S | re.M)
        for i, block in enumerate(blocks):
            out[f"{os.path.relpath(path, ROOT)}#{i}"] = block
    return out


BENCH_SHAPES = {name: make(n) for name, make in (
    ("seq", bench_engine.sequence), ("vars", bench_engine.distinct_vars), ("fanout", bench_engine.fanout),
    ("items", bench_engine.items)) for n in (1, 3)}


def test_the_repositorys_yaml_reads_as_libyaml_reads_it() -> None:
    texts = repository_texts()
    assert len(texts) > 100  # examples, fixtures, scenario files and workflows, the docs' blocks
    read = sum(compare(text) for text in texts.values())
    assert read > len(texts) // 2, "most of the repository's YAML is in the block subset"


@pytest.mark.parametrize("name", sorted(BENCH_SHAPES))
def test_the_benchmarks_workflows_are_read_here(name: str) -> None:
    assert compare(BENCH_SHAPES[name]), "the shape the reading exists for was handed over"


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml"))),
                         ids=os.path.basename)
def test_the_example_workflows_are_read_here(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        assert compare(fh.read()), "an example workflow was handed over to libyaml"


@pytest.mark.parametrize("name", sorted(test_yamlfast.PLAIN) + sorted(test_yamlfast.HANDED_OVER))
def test_the_quick_readings_cases(name: str) -> None:
    compare({**test_yamlfast.PLAIN, **test_yamlfast.HANDED_OVER}[name])


def nested_blocks(count: int) -> str:
    """A document of ``count`` block mappings, each the value of the one before."""
    return "".join("  " * i + f"k{i}:\n" for i in range(count - 1)) + "  " * (count - 1) + "v: 1\n"


# One named case for every construct the reading leaves to libyaml (and through it to yamlpos).
HANDED_OVER = {
    "a tab": "a:\n\tb: 1\n",
    "a tab in a value": "a: x\ty\n",
    "a carriage return": "a: 1\r\nb: 2\r\n",
    "non-ASCII": "a: caf\u00e9\n",
    "a control character": "a: x\x07\n",
    "DEL": "a: x\x7f\n",
    "a document start": "---\na: 1\n",
    "a document end": "a: 1\n...\n",
    "a directive": "%YAML 1.1\n---\na: 1\n",
    "an item's value like a document end, in the first column": "- a: 1\n- a: ...x\n",
    "an anchor": "a: &x 1\n",
    "an alias": "a: 1\nb: *x\n",
    "a tag": "a: !!str 1\n",
    "a local tag": "a: !x 1\n",
    "an anchor in a flow": "a: [&x 1]\n",
    "a '?' key": "? a\n: 1\n",
    "a literal block scalar": "a: |\n  text\n",
    "a folded block scalar": "a: >\n  text\n",
    "a plain scalar over two lines": "a: one\n  two\n",
    "a plain item over two lines": "- one\n  two\n",
    "a value on the line below its key": "a:\n  text\n",
    "a double-quoted scalar over two lines": "a: \"one\n  two\"\n",
    "a single-quoted scalar over two lines": "a: 'one\n  two'\n",
    "an escape in double quotes": "a: \"x\\ty\"\n",
    "a doubled single quote": "a: 'it''s'\n",
    "a flow over two lines": "a: [1,\n  2]\n",
    "a flow mapping over two lines": "a: {b: 1,\n  c: 2}\n",
    "a duplicate key": "a: 1\na: 2\n",
    "a duplicate key in a flow": "a: {b: 1, b: 2}\n",
    "keys equal as values": "1: a\ntrue: b\n",
    "': ' in a value": "a: b: c\n",
    "':' ending a value": "a: b:\n",
    "'#' right after a quoted value": "a: \"x\"#c\n",
    "'#' right after a flow": "a: [1]#c\n",
    "more after a quoted value": "a: \"x\" y\n",
    "more after a flow": "a: [1] y\n",
    "a quoted key": "\"a\": 1\n",
    "a key with a space": "a b: 1\n",
    "a key with a space before ':'": "a : 1\n",
    "a date key": "2001-12-14: x\n",
    "a key too long": "k" * 300 + ": 1\n",
    "an empty item": "- \n- a\n",
    "an item on the line below its '-'": "-\n  a: 1\n",
    "an indented document": "  a: 1\n",
    "a key under a sequence's item, misaligned": "- a: 1\n   b: 2\n",
    "an item where a key is due": "a: 1\n- b\n",
    "a key where an item is due": "- a\nb: 1\n",
    "a trailing comma": "a: [1, 2,]\n",
    "a pair in a flow sequence": "a: [b: 1]\n",
    "a key without a value in a flow": "a: {b}\n",
    "':' without a space in a flow": "a: {b:1}\n",
    "a quoted key in a flow": "a: {\"b\": 1}\n",
    "'#' in a flow scalar": "a: [b#c]\n",
    "a '-' alone in a flow": "a: [- b]\n",
    "a comment inside a flow": "a: [1, # c\n  2]\n",
    "a merge key in a flow": "a: {<<: {b: 1}}\n",
    "a value key": "a: =\n",
    "a block sequence as a value on its key's line": "a: - b\n",
    "an empty document": "",
    "only comments": "# nothing\n\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "more after a scalar document": "text\nmore\n",
    "nesting past the limit": nested_blocks(yamlfast.MAX_DEPTH + 1),
    "a flow nested past the limit": "x: " + "[" * yamlfast.MAX_DEPTH + "]" * yamlfast.MAX_DEPTH + "\n",
    "too many values": "a:\n" + "- 1\n" * yamlpos.MAX_VALUES,
    "an integer of more digits than Python converts": "a: [" + "7" * 5000 + "]\n",
}


@pytest.mark.parametrize("name", sorted(HANDED_OVER))
def test_what_the_block_reading_hands_over(name: str) -> None:
    assert yamlblock.load(HANDED_OVER[name]) is None


@pytest.mark.parametrize("code", [c for c in range(128) if not 0x20 <= c <= 0x7e and c != 0x0a] + [0x85, 0xa0, 0xe9])
def test_any_character_but_printable_ascii_and_newline_is_handed_over(code: int) -> None:
    for text in (f"a: x{chr(code)}y\n", f"a: \"x{chr(code)}y\"\n", f"# {chr(code)}\na: 1\n", f"a: 1{chr(code)}"):
        assert yamlblock.load(text) is None, repr(text)


def test_the_limits_are_libyamls_readings() -> None:
    # nesting: as deep as the events' reading goes is read here, one more is not
    assert yamlfast.load_with_libyaml(nested_blocks(yamlfast.MAX_DEPTH)) is not None
    assert compare(nested_blocks(yamlfast.MAX_DEPTH))
    assert yamlblock.load(nested_blocks(yamlfast.MAX_DEPTH + 1)) is None
    assert yamlfast.load_with_libyaml(nested_blocks(yamlfast.MAX_DEPTH + 1)) is None
    assert compare("x: " + "[" * (yamlfast.MAX_DEPTH - 1) + "]" * (yamlfast.MAX_DEPTH - 1) + "\n")
    # values: the root, a mapping's entry, then items up to the limit
    at_limit = "a:\n" + "- 1\n" * (yamlpos.MAX_VALUES - 2)
    read = yamlblock.load(at_limit)
    assert read is not None and len(read[0]["a"]) == yamlpos.MAX_VALUES - 2
    assert yamlblock.load(at_limit + "- 1\n") is None


def test_long_lines_and_runs_are_read_in_linear_time() -> None:
    # each would take minutes with a pattern that backtracks quadratically; linear, milliseconds
    n = 200_000
    for text in ("a: [" + " " * n + "1]\n", "a: [1" + " " * n + "]\n", "a: [1]" + " " * n + "\n",
                 "a: [" + "x " * n + "]\n", "a: " + "x" * n + ": 1\n", "k" * n + ": 1\n",
                 "a: \"" + "x" * n + "\n", "a: [\"" + "x" * n + "]\n", "a: ['" + "x" * n + "]\n",
                 "a: [" + "\"\\" * n + "]\n", "- " * n + "x\n", "a: " + "x " * n + "\n"):
        compare(text)


# The lines read without the line pattern (the next key of the innermost mapping, the first
# key of a list's next item) and the flow collections read by splitting them at ', ': their
# edges, each compared with libyaml's reading whichever way it goes.
QUICK_EDGES = {
    "keys of one mapping": "a: 1\nb: x\nc: [1, 2]\nd: {e: f}\n",
    "a key after a nested block": "a:\n  b: 1\nc: 2\n",
    "a key after an item's block": "- a:\n    b: 1\n  c: 2\n",
    "items of mappings": "- a: 1\n  b: 2\n- a: 3\n  b: 4\n",
    "items after nested blocks": "l:\n  - a: 1\n    b:\n      c: 2\n  - a: 3\n",
    "items with wider dashes": "l:\n  -   a: 1\n      b: 2\n  -   a: 3\n      b: 4\n  - a: 5\n    b: 6\n",
    "an item's first key a flow": "- a: {b: 1}\n- a: [1, {c: \"d\"}]\n",
    "an item after a key with no value": "- a:\n- b: 1\n",
    "an item after a key waiting for its block": "- a:\n  - b: 1\n",
    "items at the first column, a marker-like value": "- a: 1\n- a: ...x\n",
    "items at the first column, '---' as a value": "- a: 1\n- a: ---\n",
    "a key at the first column, a marker-like value": "a: 1\nb: ...x\n",
    "a duplicate key in an item": "- a: 1\n  a: 2\n",
    "the same key in two items": "- a: 1\n- a: 2\n",
    "nested dashes, then an item": "- - a: 1\n  - b: 2\n- c: 3\n",
    "a sequence at its key's column, then a key": "a:\n- b: 1\n- c: 2\nd: 3\n",
    "an item less indented than the list": "l:\n  - a: 1\n - b: 2\n",
    "an item more indented than the list": "l:\n  - a: 1\n   - b: 2\n",
    "extra spaces after ':'": "- a:   1\n  b:  x\n- a:  {c: 1}\n",
    "comments after values": "- a: 1 # c\n  b: x #\n- a: 2\n  b: {c: 1} # d\n",
    "a key alone on its line, then keys": "a:\nb: 1\nc:\n  d: 2\n",
    "a flat mapping": "a: {b: 1, c: x_y, d: \"e, f\", g: \"\", _h: yes, 1: null}\n",
    "a flat list": "a: [1, b, \"c\", {d: 2}, {e: \"f, g\"}, _i]\n",
    "a quoted scalar split at ', '": "a: {b: \"c, d: e\", f: 1}\n",
    "a quoted piece that closes": "a: [{b: \"}, {\"}, 1]\n",
    "a quoted ', ' alone": "a: {b: \", \", c: 1}\n",
    "a mapping of two in a list": "a: [{b: 1, c: 2}]\n",
    "mappings in a list": "a: [{b: 1}, {b: 2}, {}]\n",
    "two collections on a line": "a: {b: 1}, {c: 2}\n",
    "two lists on a line": "a: [1], [2]\n",
    "keys equal once resolved": "a: {yes: 1, Yes: 2}\n",
    "keys that resolve": "a: {null: 1, true: 2, 0x1F: 3, 1_0: 4, 12: 5}\n",
    "words that resolve": "a: [yes, No, null, 0x1F, 0o7, 1_000, 007, 12, 0, 1e3]\n",
    "an empty item": "a: [1, , 2]\n",
    "a trailing ', '": "a: {b: 1, }\n",
    "spaces inside": "a: { b: 1 }\nc: [ 1, 2 ]\nd: {b:  1}\n",
    "no space after ','": "a: {b: 1,c: 2}\nd: [1,2]\n",
    "a comment after": "a: {b: 1} # c\nd: [1] #c\n",
    "trailing spaces": "a: {b: 1}   \nc: [x, y]  \n",
    "an escape in a quoted scalar": "a: {b: \"c\\\\d\"}\n",
    "single quotes": "a: {b: 'c'}\nd: ['e', f]\n",
    "a key too long": "a: {" + "k" * 257 + ": 1}\n",
    "a key at the longest": "a: {" + "k" * 256 + ": 1}\n",
    "flat mappings at the depth limit": "x: " + "[" * (yamlfast.MAX_DEPTH - 2) + "{a: 1}" + "]" * (yamlfast.MAX_DEPTH - 2) + "\n",
    "a flat list nested in a flow": "a: {b: [1, 2]}\n",
}
READ_QUICKLY = ["keys of one mapping", "items of mappings", "items with wider dashes", "items after nested blocks", "a flat mapping",
                "a flat list", "mappings in a list", "a quoted scalar split at ', '"]


@pytest.mark.parametrize("name", sorted(QUICK_EDGES))
def test_the_quick_lines_and_flat_collections_read_as_libyaml_reads_them(name: str) -> None:
    read = compare(QUICK_EDGES[name])
    if name in READ_QUICKLY:
        assert read, "a document of the plainest kind was handed over"


FLAT_WORDS = ["1", "x", "x_y", "_", "yes", "No", "null", "0x1F", "007", "1e3", "12", "t5", '""', '"a, b"',
              '"c: d"', '"}, {"', '"{{ result().i }}"', '"q', 'q"', "'s'", "a b", "a.b", "-1", "", "x,y",
              '"a\\"b"', "[1]", "{}"]
FLAT_KEYS = ["a", "b", "v0", "1", "yes", "_k", "a b", "a.b", '"q"', "", "k" * 257]


def flat_collection(rnd: random.Random, depth: int = 0) -> str:
    """A flow collection near the edges of the ones read by splitting at ', '."""
    sep = rnd.choice([", ", ", ", ", ", ",", " , ", ",  "])
    if rnd.random() < 0.5:
        items = [flat_collection(rnd, depth + 1) if depth < 1 and rnd.random() < 0.3 else rnd.choice(FLAT_WORDS)
                 for _ in range(rnd.choice([1, 1, 2, 3]))]
        return "[" + sep.join(items) + rnd.choice(["]", "]", "]", ", ]", " ]"]) + rnd.choice(["", "", " # c", "  "])
    pairs = [rnd.choice(FLAT_KEYS) + rnd.choice([": ", ": ", ": ", ":", ":  "]) + rnd.choice(FLAT_WORDS)
             for _ in range(rnd.choice([1, 1, 2, 3]))]
    return "{" + sep.join(pairs) + rnd.choice(["}", "}", "}", ", }", " }"]) + rnd.choice(["", "", " # c", "  "])


@pytest.mark.parametrize("seed", [20261204, int(os.environ.get("RELAYFLOW_PROPERTY_SEED", "1"))])
def test_generated_task_lists_read_as_libyaml_reads_them(seed: int) -> None:
    # lists of mappings whose lines are read without the line pattern, their flows split at ', '
    rnd = random.Random(seed)
    read = 0
    for _ in range(600):
        lines = ["name: w", "tasks:"]
        pad = rnd.choice(["  ", "  ", "", "    "])
        for _ in range(rnd.randint(1, 4)):
            dash = rnd.choice(["- ", "- ", "- ", "-  "])
            key_pad = pad + " " * len(dash)
            lines.append(pad + dash + rnd.choice(["name", "name", "a", "b"]) + ": " + rnd.choice(["t1", "t2", "{a: 1}"]))
            for key in rnd.sample(["action", "input", "publish", "on_success", "b"], rnd.randint(0, 3)):
                r = rnd.random()
                if r < 0.6:
                    lines.append(key_pad + key + ": " + flat_collection(rnd))
                elif r < 0.8:
                    lines.append(key_pad + key + ": " + rnd.choice(FLAT_WORDS + ["core.echo", "x # c"]))
                else:
                    lines.append(key_pad + key + ":")
                    lines.append(key_pad + rnd.choice(["  ", "", "    "]) + rnd.choice(["- x", "c: 1", "- c: 1"]))
        text = "\n".join(lines) + "\n"
        read += compare(text)
    assert 60 < read < 540, read


# The generated documents: block structure with random indents, keys, scalars near the
# resolvers' edges, quotes, comments and flow collections, some of them broken on purpose.
KEYS = ["name", "a", "b", "tasks", "on_success", "x.y", "_k", "a-b", "1", "0x1F", "1_000", "yes", "on", "No",
        "null", "true", "1.5", "2001-12-14", "a b", "'q'", "\"dq\"", "<<", "=", "?", "-k", "k" * 260, "K"]
SCALARS = ["t1", "core.echo", "yes", "no", "On", "y", "n", "TRUE", "0x1F", "0o7", "0755", "007", "1e3", "1.0e+3",
           "3.14", "-1", "+1", "-0", "+.5", ".inf", "-.Inf", ".NaN", "~", "null", "Null", "1_000", "1__0", "0b101",
           "190:20:30", "1:20", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-13-45", "a#b", "a # b",
           "a: b", "a:b", "x:", "-", "-x", "--", "- x", "? x", ":x", "&a", "*a", "!x", "|", ">", "%x", "@x", "`x",
           "'q'", '"dq"', "'it''s'", '"a\\"b"', '"a # b"', "'a # b'", "''", '""', "a  b", "x - y", "a,b", "a]",
           "b}", "http://a.b/c", "{{ x }}", '"{{ result().i }}"', "=", "<<", "12", "0", "a\tb", "caf\u00e9",
           "[a, b]", "{a: b}", "[]", "{}", "\"x\" y", "'x'#c"]
FLOW_SCALARS = ["1", "a", "yes", "~", "-1", "-x", "1.5", ".inf", "x y", '"q"', "'s'", '"a, b"', "'[x]'", "a:b",
                "a#b", "- a", "? a", "&x a", "!t a", "", "2001-12-14", "0x1F", "=", "<<", '"{{ x }}"', "a'b"]
FLOW_KEYS = ["a", "b", "v0", "1", "yes", "x y", '"q"', "a:", "?", "2001-12-14", "", "a b"]


def flow(rnd: random.Random, depth: int = 0) -> str:
    sp = rnd.choice(["", "", " ", "  "])
    if depth > 2 or rnd.random() < 0.4:
        return rnd.choice(FLOW_SCALARS)
    n = rnd.choice([0, 1, 1, 2, 3])
    if rnd.random() < 0.5:
        items = [flow(rnd, depth + 1) for _ in range(n)]
        body = ("," + rnd.choice([" ", "", "  "])).join(items)
        return "[" + sp + body + rnd.choice(["", "", ",", " "]) + "]"
    pairs = [rnd.choice(FLOW_KEYS) + rnd.choice([": ", ": ", ":", " : ", ":  "]) + flow(rnd, depth + 1)
             for _ in range(n)]
    return "{" + sp + ", ".join(pairs) + rnd.choice(["", "", ",", " "]) + "}"


def scalar(rnd: random.Random) -> str:
    value = flow(rnd) if rnd.random() < 0.25 else rnd.choice(SCALARS)
    tail = rnd.choice(["", "", "", " # c", "  #c: d 'x", "#c", " ", "  "])
    return value + tail


def block(rnd: random.Random, indent: int, depth: int, lines: list[str], first_prefix: str | None = None) -> None:
    """Lines of a block mapping or sequence at ``indent``; the first line may start after a '- '."""
    pad = " " * indent
    if rnd.random() < 0.35:  # a sequence
        for i in range(rnd.randint(1, 3)):
            lead = first_prefix if (i == 0 and first_prefix is not None) else pad
            r = rnd.random()
            if r < 0.5 or depth > 3:
                lines.append(lead + "- " + scalar(rnd))
            elif r < 0.8:
                gap = rnd.choice([1, 1, 1, 2])
                block_mapping(rnd, indent + 1 + gap, depth + 1, lines, lead + "-" + " " * gap)
            elif r < 0.9:
                block(rnd, indent + 2, depth + 1, lines, lead + "- ")
            else:
                lines.append(lead + "-" + rnd.choice(["", " ", " # c"]))
                block(rnd, indent + rnd.choice([2, 4]), depth + 1, lines)
        return
    block_mapping(rnd, indent, depth, lines, first_prefix)


def block_mapping(rnd: random.Random, indent: int, depth: int, lines: list[str], first_prefix: str | None) -> None:
    pad = " " * indent
    keys = rnd.sample(KEYS[:8], 3) if rnd.random() < 0.8 else [rnd.choice(KEYS) for _ in range(3)]
    for i, key in enumerate(keys[:rnd.randint(1, 3)]):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        r = rnd.random()
        if r < 0.6 or depth > 3:
            lines.append(lead + key + ": " + scalar(rnd))
        elif r < 0.7:
            lines.append(lead + key + rnd.choice([":", ": ", ":  # c"]))
        elif r < 0.85:
            lines.append(lead + key + rnd.choice([":", ": # c"]))
            block(rnd, indent + rnd.choice([1, 2, 2, 4]), depth + 1, lines)
        else:  # a sequence at the key's column
            lines.append(lead + key + ":")
            for _ in range(rnd.randint(1, 2)):
                if rnd.random() < 0.6:
                    lines.append(pad + "- " + scalar(rnd))
                else:
                    block_mapping(rnd, indent + 2, depth + 1, lines, pad + "- ")


def mutate(rnd: random.Random, lines: list[str]) -> None:
    """One change that may take the document out of the subset, or out of YAML."""
    i = rnd.randrange(len(lines))
    kind = rnd.randrange(10)
    if kind == 0:
        lines[i] = " " + lines[i]
    elif kind == 1 and lines[i].startswith(" "):
        lines[i] = lines[i][1:]
    elif kind == 2:
        lines.insert(i, rnd.choice(["", "# note", "   # indented note", "  ", "---", "...", "%YAML 1.1"]))
    elif kind == 3:
        lines.insert(i, lines[i])  # a duplicate key, or a second item
    elif kind == 4 and i + 1 < len(lines):
        lines[i] += " " + lines.pop(i + 1).lstrip()
    elif kind == 5:
        lines[i] = lines[i].replace(" ", "\t", 1)
    elif kind == 6:
        lines.insert(i + 1, " " * rnd.randint(0, 8) + rnd.choice(["more", "x: 1", "- y", "'q'", "[1]"]))
    elif kind == 7:
        lines[i] = lines[i].replace(": ", rnd.choice([": &a ", ": *a", ": !!str ", ": |", ":: "]), 1)
    elif kind == 8:
        lines[i] = lines[i].rstrip() + rnd.choice([":", " :", " #", "#", " - x", ","])
    else:
        lines.insert(0, rnd.choice(["", "# head", "  ", "- top"]))


def generated(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        lines: list[str] = []
        if rnd.random() < 0.05:
            lines.append(scalar(rnd))
        else:
            block(rnd, 0, 0, lines)
        for _ in range(rnd.choice([0, 0, 0, 1, 1, 2])):
            mutate(rnd, lines)
        out.append("\n".join(lines) + rnd.choice(["\n", "\n", "", "\n\n"]))
    return out


@pytest.mark.parametrize("seed", [20261202, int(os.environ.get("RELAYFLOW_PROPERTY_SEED", "1"))])
def test_generated_documents_read_as_libyaml_reads_them(seed: int) -> None:
    texts = generated(seed, 2500)
    read = sum(compare(text) for text in texts)
    # near the edges: a good part of them is read here, a good part handed over
    assert 0.1 * len(texts) < read < 0.9 * len(texts), read


# Edits of the repository's own workflows, a character or a few at a time: the slips a
# person makes (a lost space, a stray quote, a colon, a dash, a line break).
EDITS = list(" -:#'\"[]{},\n?&*!|>%@`.0123456789aytn~\\") + ["- ", ": ", " #", "  ", "\n  ", "\n- "]


@pytest.mark.parametrize("seed", [20261203, int(os.environ.get("RELAYFLOW_PROPERTY_SEED", "1"))])
def test_edited_workflows_read_as_libyaml_reads_them(seed: int) -> None:
    rnd = random.Random(seed)
    texts = [text for text in repository_texts().values() if len(text) < 4000]
    read = 0
    for _ in range(1000):
        text = rnd.choice(texts)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(text) + 1)
            kind = rnd.randrange(3)
            if kind == 0:
                text = text[:at] + rnd.choice(EDITS) + text[at:]
            elif kind == 1:
                text = text[:at] + text[at + 1:]
            else:
                text = text[:at] + rnd.choice(EDITS) + text[at + 1:]
        read += compare(text)
    assert 100 < read < 900, read

"""The quickest reading of a workflow file: block YAML of the plainest kind, line by line.

libyaml's event stream alone takes most of the time a 10,000-task workflow is allowed to
load in, so the common shape of a workflow file is read here in pure Python, a line at a
time, without libyaml: block mappings (``key: value``, ``key:`` and a more indented block)
and block sequences (``- item``, ``- key: value``, a sequence at its parent key's indent);
keys that are simple names; plain scalars on one line, resolved exactly as
:mod:`yamlfast` resolves them; quoted scalars on one line without escapes (no ``\\`` in
double quotes, no ``''`` in single ones); flow collections on one line (``{a: 1}``,
``[x, {v: "{{ y }}"}]``); comments and blank lines.

Anything else gives None and the caller reads the text with libyaml (:func:`yamlfast.load`),
which reads what this module does not, and hands what is wrong to :func:`yamlpos.load`,
which names it. So nothing is read here that libyaml would refuse or read otherwise: a
document outside the subset is never guessed at. Among what is handed over: tabs, ``\\r``,
anything but printable ASCII; document markers and directives; anchors, aliases, tags;
``?`` keys; block scalars (``|``, ``>``); a scalar over several lines; a flow collection
over several lines; a duplicate key; ``: `` inside a plain value; ``#`` right after a quoted
value or a flow collection; a key over 256 characters (libyaml's simple keys end at 1024);
a document nested deeper than ``MAX_DEPTH`` or of more than ``yamlpos.MAX_VALUES`` values, as in
:mod:`yamlfast`. ``tests/unit/test_yamlblock.py`` compares both readings on thousands of
documents, the repository's own and generated ones near the subset's edges.

A line is cut at its first ': ', and what comes before it (an indent, a '- ', a key) recurs
from line to line: what the line pattern read in it is looked up, and the next key of the
innermost mapping or the first key of a list's next item is read without the pattern.
Any other line is matched by a regular expression that cannot backtrack more than a key's
length. Scalars and flow collections are read by :mod:`yamlflow`: one of the plainest kind
(entries separated by ', ', names and words, double-quoted scalars) by splitting it there,
any other by cutting it into tokens once. The reading is linear in the text: a regular
expression call costs thousands of instructions, so str methods do the common lines' work. Lines are counted from 0, as
libyaml counts them; :class:`yamlfast.TreeLines` answers from them (one line for all the
entries of a flow collection).
"""
from __future__ import annotations

import gc
import re
from operator import itemgetter
from typing import Any

import yaml

from .yamlfast import _RESOLVERS, MAX_DEPTH, TreeLines, _NotPlain
from .yamlflow import NO_VALUE, ScalarReader
from .yamlpos import MAX_VALUES

# A line: its indent, the "- " of the sequence items it opens, a simple key and ':' (then a
# space or the line's end), and the rest. A key is at most 256 characters: libyaml does not
# read a longer simple key as a key (its limit is 1024), and a bounded run keeps the
# backtracking, when no ':' follows, to the key's length.
_LINE = re.compile(r"^( *)((?:- +)*)(?:([A-Za-z0-9_][A-Za-z0-9_.-]{0,255}):(?: +|$))?(.*)$", re.MULTILINE)


def load(text: str) -> tuple[Any, TreeLines] | None:
    """The data and lines of a document in the block subset; None for any other text."""
    # printable ASCII and newlines only (no tab, '\r', control character or DEL: libyaml refuses
    # some, reads others its own way): deleting those from the text leaves nothing
    if not text.isascii() or text.encode("ascii").translate(None, _PRINTABLE) or None in _RESOLVERS:
        return None
    was_enabled = gc.isenabled()
    gc.disable()  # as in yamlfast.load: a large graph of live objects and no garbage cycles
    ctor = yaml.SafeLoader("")
    try:
        return _Reader(ctor).read(text)
    except (_NotPlain, ValueError):  # ValueError: an integer of more digits than Python converts
        return None
    finally:
        ctor.dispose()
        if was_enabled:
            gc.enable()


class _Reader(ScalarReader):
    """One reading: the containers' line tables, the memos, and the open blocks."""

    def __init__(self, ctor: yaml.SafeLoader):
        super().__init__(ctor)
        # A line's text before its first ': ' -> what the line pattern read in it, once a line
        # with that start was read: (the column at which it is the next key of a mapping, -2
        # after dashes; the key; the indent's length; the dashes; the key's text; the column at
        # which it starts the next item of a list, -2 when it does not; its key's column).
        self.heads: dict[str, tuple[int, Any, int, str, str, int, int]] = {}
        # The block reading's state between lines: the document, the open blocks outermost
        # first (the column of their keys or '-', their depth, the container, its lines), the
        # innermost one's, and a key with no value on its line (mapping, key, its column, depth).
        self.root: Any = NO_VALUE
        self.root_line = 0
        self.blocks: list[tuple[int, int, Any, Any]] = []
        self.col = self.depth = -1
        self.container: Any = None
        self.lines: Any = None
        self.pending: tuple[dict[Any, Any], Any, int, int] | None = None

    def read(self, text: str) -> tuple[Any, TreeLines]:
        memo = self.memo
        heads = self.heads
        entries = self.entries
        blocks = self.blocks
        plain = self.plain
        flow = self.flow
        other = self.line
        # What the lines read here need (line() keeps the rest, and gives these after each
        # line it reads): the innermost mapping, its lines and depth, and key_col, the column
        # of its next key (-1 when a list is innermost or a key waits for its block); when it
        # is an item of a list, item_col, the column of the list's '-', the list and its lines.
        key_col, depth, item_col = -1, -1, -1
        container: Any = None
        table: Any = None
        items: Any = None
        item_lines: Any = None
        for number, line in enumerate(text.split("\n")):
            # Most lines are a key of a mapping and a plain scalar or a flow collection: what
            # comes before ': ' recurs (an indent, a '- ', a key) and is looked up.
            head, _, rest = line.partition(": ")
            known = heads.get(head)
            if known is not None and rest:
                if known[0] == key_col:  # the next key of the innermost mapping
                    k = known[1]
                    if k in container:
                        raise _NotPlain  # a duplicate key: yamlpos.load names it
                    first = rest[0]
                    if first in _PLAIN_START and "#" not in rest and ":" not in rest and rest[-1] != " ":
                        table[k] = number
                        value = memo.get(rest, NO_VALUE)
                        container[k] = plain(rest) if value is NO_VALUE else value
                        continue
                    if first == "{" or first == "[":
                        table[k] = number
                        container[k] = flow(rest, number, depth + 1)
                        continue
                elif known[5] == item_col:  # the next item of the list, a mapping: its first key
                    first = rest[0]
                    if first in _PLAIN_START and "#" not in rest and ":" not in rest and rest[-1] != " ":
                        value = memo.get(rest, NO_VALUE)
                        if value is NO_VALUE:
                            value = plain(rest)
                    elif first == "{" or first == "[":
                        value = flow(rest, number, depth + 1)
                    else:
                        value = NO_VALUE  # read by line()
                    if value is not NO_VALUE:
                        k = known[1]
                        container = {k: value}
                        table = {k: number}
                        entries[id(container)] = (container, table)
                        items.append(container)
                        item_lines.append(number)
                        # in place of the item before it, at the same depth
                        key_col = known[6]
                        blocks[-1] = (key_col, depth, container, table)
                        self.col, self.container, self.lines = key_col, container, table
                        continue
            key_col, container, table, depth, item_col, items, item_lines = other(line, number, head, known, rest)
        if self.root is NO_VALUE:
            raise _NotPlain  # no document: libyaml says what it is
        # Every value but the root is an entry of one container.
        if 1 + sum(map(len, map(_CONTAINER, entries.values()))) > MAX_VALUES:
            raise _NotPlain
        return self.root, TreeLines(self.root, self.root_line, entries)

    def line(self, line: str, number: int, head: str, known: Any, rest: str) -> _State:
        """Read a line of any other kind; the state :meth:`read` keeps for the next line."""
        if known is not None and len(line) > len(head):  # the line is ``head: rest``
            at, dashes, key = known[2], known[3], known[4]
            if rest[:1] == " ":
                rest = rest.lstrip(" ")
            new_head = False
        else:
            indent, dashes, key, rest = _LINE.match(line).groups()  # type: ignore[union-attr]
            at = len(indent)
            # the line pattern's reading holds for every line that starts as this one, to ': '
            new_head = bool(key) and len(line) > len(head) == at + len(dashes) + len(key)
        if not dashes and not key and (not rest or rest[0] == "#"):
            return self.state()  # a blank line, or a comment
        if at == 0 and (rest[:3] in ("---", "...") or rest[:1] == "%"):
            raise _NotPlain  # a document marker or a directive
        entries = self.entries
        blocks = self.blocks
        col, depth, container, lines = self.col, self.depth, self.container, self.lines
        if self.root is NO_VALUE:
            if at:
                raise _NotPlain  # the document starts indented
            self.root_line = number
            if not dashes and not key:
                self.root = self.value(rest, number, -1)  # a scalar or a flow collection alone
                return self.state()
            self.root = container = [] if dashes else {}
            lines = [] if dashes else {}
            entries[id(container)] = (container, lines)
            col, depth = 0, 0
            blocks.append((col, depth, container, lines))
        elif not blocks:
            raise _NotPlain  # more after a scalar document, or after its block ended
        if self.pending is not None:
            mapping, parent_key, parent_col, parent_depth = self.pending
            self.pending = None
            if at > parent_col or (at == parent_col and dashes):
                # the key's value is the block this line opens (a sequence may be at the key's column)
                if parent_depth + 1 >= MAX_DEPTH:
                    raise _NotPlain
                container = [] if dashes else {}
                lines = [] if dashes else {}
                entries[id(container)] = (container, lines)
                mapping[parent_key] = container
                col, depth = at, parent_depth + 1
                blocks.append((col, depth, container, lines))
            # else the key's value is null, as set
        if col > at:
            while blocks[-1][0] > at:
                blocks.pop()
                if not blocks:
                    raise _NotPlain
            col, depth, container, lines = blocks[-1]
        if col != at:
            raise _NotPlain  # a scalar over several lines, or an indent no block has
        if type(container) is list:
            if not dashes:
                # a key after a sequence at its parent key's column ends the sequence
                blocks.pop()
                if not blocks:
                    raise _NotPlain
                col, depth, container, lines = blocks[-1]
                if col != at or type(container) is not dict:
                    raise _NotPlain
        elif dashes:
            raise _NotPlain  # an item where a key is due
        if dashes:
            # each '-' an item of the sequence before it; a further '-' opens a sequence in it
            step = 0
            while True:
                lines.append(number)
                step = dashes.find("-", step + 1)
                if step < 0:
                    break
                if depth + 1 >= MAX_DEPTH:
                    raise _NotPlain
                inner: list[Any] = []
                inner_lines: list[int] = []
                entries[id(inner)] = (inner, inner_lines)
                container.append(inner)
                col, depth, container, lines = at + step, depth + 1, inner, inner_lines
                blocks.append((col, depth, container, lines))
            if not key:
                if not rest or rest[0] == "#":
                    raise _NotPlain  # an empty item, or one on the lines below its '-'
                self.col, self.depth, self.container, self.lines = col, depth, container, lines
                container.append(self.value(rest, number, depth))
                return self.state()
            # '- key: ...': a mapping in the item, its further keys at this key's column
            if depth + 1 >= MAX_DEPTH:
                raise _NotPlain
            mapping = {}
            lines = {}
            entries[id(mapping)] = (mapping, lines)
            container.append(mapping)
            col, depth, container = at + len(dashes), depth + 1, mapping
            blocks.append((col, depth, container, lines))
        elif not key:
            raise _NotPlain  # a value where a key is due
        self.col, self.depth, self.container, self.lines = col, depth, container, lines
        k = self.keys.get(key, NO_VALUE)
        if k is NO_VALUE:
            k = self.key(key)
        if new_head:
            # (the line at a mapping's key column; at a list's '-' that starts an item: not in
            # the document's first column, where a marker ends a document)
            item = at if dashes.count("-") == 1 and at else -2
            self.heads[head] = (-2 if dashes else at, k, at, dashes, key, item, at + len(dashes))
        if k in container:
            raise _NotPlain  # a duplicate key: yamlpos.load names it
        lines[k] = number
        if not rest or rest[0] == "#":
            container[k] = None  # null, unless a block below is its value
            self.pending = (container, k, col, depth)
        else:
            container[k] = self.value(rest, number, depth)
        return self.state()

    def state(self) -> _State:
        """What :meth:`read` keeps (see there)."""
        if self.pending is not None or type(self.container) is not dict:
            return -1, None, None, -1, -1, None, None
        below = self.blocks[-2] if len(self.blocks) > 1 else None
        if below is not None and type(below[2]) is list:
            return self.col, self.container, self.lines, self.depth, below[0], below[2], below[3]
        return self.col, self.container, self.lines, self.depth, -1, None, None


_PLAIN_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./~+$(<=;\\^")
# _Reader.line's answer: the innermost mapping's key column, the mapping, its lines, its depth,
# and its list's column, the list and its lines (see _Reader.read)
_State = tuple[int, Any, Any, int, int, Any, Any]
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"  # what load() reads: printable ASCII and newlines
_CONTAINER = itemgetter(0)  # an entry of _Reader.entries -> its container

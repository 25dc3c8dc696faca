"""Scalars and flow collections on one line, as :mod:`yamlblock`'s reading reads them.

A plain scalar is resolved exactly as :mod:`yamlfast` resolves it, and remembered: keys recur in
every task and values are immutable. A flow collection of the plainest kind (entries separated
by ``', '``, keys that are names, words or double-quoted scalars) is read by splitting it there;
any other is cut into tokens once, by a pattern that cannot backtrack more than a scalar's length.
What is not read here raises :class:`yamlfast._NotPlain`: the caller hands the whole document
to libyaml.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from .yamlfast import _KEY_TYPES, _RESOLVERS, MAX_DEPTH, _NotPlain, _scalar

# A token of a flow collection, after the spaces before it: a space and a comment; an
# indicator; a quoted scalar with no escapes and no line break; a plain scalar (no
# ',[]{}:#' or quote in it, no space at its ends, not starting with an indicator), with ': '
# when it is a key; any other character, which ends the reading. Spaces are skipped one at a
# time only until a token starts (the text cut has no trailing spaces), and only a plain
# scalar's trailing spaces are backtracked over: the cutting is linear.
_FLOW_TOKEN = re.compile(
    r""" *?( \#.*|[\[\]{},]|"[^"\\]*"|'[^']*'"""
    r"""|(?:[^-?:,\[\]{}#&*!|>'"%@` ]|-[^ ,\[\]{}:#'"])(?:[^,\[\]{}:#'"]*[^ ,\[\]{}:#'"])?(?:: )?"""
    r"""|[^ ])""")
MAX_KEY = 256  # the longest key read here, as yamlblock's line pattern has it


class ScalarReader:
    """What one reading keeps for its scalars: the containers' line tables and the memos."""

    def __init__(self, ctor: yaml.SafeLoader):
        self.ctor = ctor
        self.entries: dict[int, tuple[Any, Any]] = {}
        # plain scalar -> its value, as in yamlfast: keys recur in every task, values are immutable
        self.memo: dict[str, Any] = {}
        # key text -> the key, once it is known to be a key yamlpos.load accepts; each text is
        # a block key's name or a flow key's token without ': ', so a flow collection's tokens
        # read it followed by ': ' as one key too (flat_mapping relies on it)
        self.keys: dict[str, Any] = {}
        # a flow key's token ('name: ') -> the key, once it is known to be one
        self.flow_keys: dict[str, Any] = {}

    def plain(self, text: str) -> Any:
        """The value of a plain scalar not in the memo yet (the callers look there first)."""
        if text.isdigit() and text[0] != "0":
            value: Any = int(text)  # what the int resolver and the safe constructor make of it
        else:
            value = _scalar(text, self.ctor) if text[:1] in _RESOLVERS else text
        self.memo[text] = value
        return value

    def key(self, text: str) -> Any:
        key = self.memo.get(text, NO_VALUE)
        if key is NO_VALUE:
            key = self.plain(text)
        if type(key) is not str and not isinstance(key, _KEY_TYPES):
            raise _NotPlain  # a date as a key: yamlpos.load names it
        self.keys[text] = key
        return key

    def value(self, rest: str, line: int, depth: int) -> Any:
        """The value a line ends with, ``rest`` neither empty nor a comment, in a container at ``depth``."""
        first = rest[0]
        if first == '"' or first == "'":
            end = rest.find(first, 1)
            if end < 0 or (first == '"' and "\\" in rest[1:end]):
                raise _NotPlain  # a scalar over several lines, or an escape
            tail = rest[end + 1:]
            if tail:  # spaces and a comment, or nothing ("''" in single quotes is neither)
                stripped = tail.lstrip(" ")
                if stripped and (stripped[0] != "#" or len(stripped) == len(tail)):
                    raise _NotPlain
            return rest[1:end]
        if first == "[" or first == "{":
            return self.flow(rest, line, depth + 1)
        if first in _INDICATORS and (first != "-" or rest[1:2] in ("", " ")):
            raise _NotPlain  # an indicator: a block scalar, an alias, a tag...
        if "#" in rest:
            cut = rest.find(" #")
            if cut >= 0:
                rest = rest[:cut]
        if rest[-1] == " ":
            rest = rest.rstrip(" ")
        if ":" in rest and (": " in rest or rest[-1] == ":"):
            raise _NotPlain  # libyaml reads a mapping there, or refuses it
        value = self.memo.get(rest, NO_VALUE)
        return self.plain(rest) if value is NO_VALUE else value

    def flow(self, rest: str, line: int, depth: int) -> Any:
        """The flow collection ``rest`` holds, at ``depth``: all on its line, a comment at most after it."""
        if rest[-1] == " ":
            rest = rest.rstrip(" ")
        value = self.flat(rest, line, depth)
        if value is not NO_VALUE:
            return value
        tokens = _FLOW_TOKEN.findall(rest)
        try:
            value, i = self.collection(tokens, 1, line, depth)
            if i < len(tokens) and (i + 1 < len(tokens) or tokens[i][0] != " "):
                raise _NotPlain  # more after it, or a '#' right after it
        except IndexError:
            raise _NotPlain from None  # the collection goes on on the next line
        return value

    def flat(self, text: str, line: int, depth: int) -> Any:
        """The flow collection ``text`` when it is of the plainest kind, else NO_VALUE: a
        mapping or a list whose entries are separated by ', ', its keys names, its scalars
        words or double-quoted, a list's items mappings of one such entry at most.

        Splitting the text at ', ' is its reading then: a word has no indicator in it, and a
        quoted scalar split there leaves a piece with an unclosed quote, which is not read here.
        (Cutting a flow collection into tokens costs a few thousand instructions a call and a
        thousand a token; this is a few str methods.)"""
        if depth + 1 >= MAX_DEPTH:
            return NO_VALUE  # the tokens' reading hands it over, or reads it
        close = text[-1]
        if text[0] == "{":
            if close != "}":
                return NO_VALUE
            mapping = self.flat_mapping(text[1:-1].split(", "))
            if mapping is None:
                return NO_VALUE
            self.entries[id(mapping)] = (mapping, line)
            return mapping
        if close != "]":
            return NO_VALUE
        items: list[Any] = []
        mappings = []
        for item in text[1:-1].split(", "):
            if item[:1] == "{":
                mapping = self.flat_mapping([item[1:-1]]) if item[-1] == "}" else None
                if mapping is None:
                    return NO_VALUE
                mappings.append(mapping)
                items.append(mapping)
                continue
            value = self.word(item)
            if value is NO_VALUE:
                return NO_VALUE
            items.append(value)
        entries = self.entries
        entries[id(items)] = (items, line)  # (all on the line: TreeLines takes one line for them)
        for mapping in mappings:
            entries[id(mapping)] = (mapping, line)
        return items

    def flat_mapping(self, parts: list[str]) -> dict[Any, Any] | None:
        """The mapping of ``parts``, each a name, ': ' and a word or a double-quoted scalar; None
        when one is not that, or a key recurs."""
        mapping: dict[Any, Any] = {}
        keys = self.keys
        for part in parts:
            text, _, value_text = part.partition(": ")
            key = keys.get(text, NO_VALUE)  # (every text there is a key a flow's tokens read as one)
            if key is NO_VALUE:
                if not (text.isalnum() or text.isidentifier()) or len(text) > MAX_KEY:
                    return None
                key = self.key(text)
            if key in mapping:
                return None
            value = self.word(value_text)
            if value is NO_VALUE:
                return None
            mapping[key] = value
        return mapping

    def word(self, text: str) -> Any:
        """The value of ``text`` in a flow collection when it is a word (letters, digits, '_')
        or a double-quoted scalar without escapes; else NO_VALUE."""
        if text.isalnum() or text.isidentifier():
            value = self.memo.get(text, NO_VALUE)
            return self.plain(text) if value is NO_VALUE else value
        if len(text) > 1 and text[0] == '"' and text[-1] == '"':
            inner = text[1:-1]
            if '"' not in inner and "\\" not in inner:
                return inner
        return NO_VALUE

    def collection(self, tokens: list[str], i: int, line: int, depth: int) -> tuple[Any, int]:
        """The collection ``tokens[i - 1]`` opens, and the index of the token after it."""
        if depth >= MAX_DEPTH:
            raise _NotPlain
        container: Any
        if tokens[i - 1] == "{":
            container, close = {}, "}"
        else:
            container, close = [], "]"
        self.entries[id(container)] = (container, line)  # every entry on the line
        token = tokens[i]
        if token == close:
            return container, i + 1
        mapping = close == "}"
        memo = self.memo
        flow_keys = self.flow_keys
        # (one loop for both kinds, scalars read in it: a call per entry was most of the cost)
        while True:
            if mapping:
                # a key: a plain scalar and ': ' (a trailing ',' or any other token is none)
                key = flow_keys.get(token, NO_VALUE)
                if key is NO_VALUE:
                    if token[-1] != " " or token[0] in _NOT_PLAIN_START or len(token) > MAX_KEY + 2:
                        raise _NotPlain
                    key = flow_keys[token] = self.key(token[:-2])
                if key in container:
                    raise _NotPlain  # a duplicate key
                i += 1
                token = tokens[i]
            first = token[0]
            if first in _NOT_PLAIN_START:
                if first == "{" or first == "[":
                    value, i = self.collection(tokens, i + 1, line, depth + 1)
                elif (first == '"' or first == "'") and len(token) > 1 and token[-1] == first:
                    value = token[1:-1]
                    i += 1
                else:
                    raise _NotPlain  # an unclosed quote, an indicator, a comment, a ',' where a value is due
            elif token[-1] == " " or token == "-":
                raise _NotPlain  # a key where a value is due, or a '-' alone
            else:
                value = memo.get(token, NO_VALUE)
                if value is NO_VALUE:
                    value = self.plain(token)
                i += 1
            if mapping:
                container[key] = value
            else:
                container.append(value)
            token = tokens[i]
            if token == close:
                return container, i + 1
            if token != ",":
                raise _NotPlain
            i += 1
            token = tokens[i]


# The characters no plain scalar starts with: YAML's indicators (and a space); a '-' does
# when a character of the scalar follows it.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")
_NOT_PLAIN_START = _INDICATORS - {"-"}
NO_VALUE = object()

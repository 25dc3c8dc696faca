""""Did you mean" hints: close field names, other engines' names for ours, and the
template names and functions an author coming from Attune or Orquesta reaches for."""
from __future__ import annotations

import difflib

# Field names other engines use, mapped to ours, for "did you mean" hints difflib would miss.
_FIELD_SYNONYMS = {
    "retries": "retry", "params": "input", "parameters": "input", "args": "input", "arguments": "input",
    "items": "with_items", "loop": "with_items", "foreach": "with_items", "for_each": "with_items",
    "condition": "when", "if": "when", "publish_vars": "publish", "transitions": "next",
    "on_error": "on_failure", "on_fail": "on_failure", "on_finish": "on_complete",
    "on_done": "on_complete", "then": "on_success", "ref": "action", "uses": "action",
    "subworkflow": "workflow", "branches": "tasks", "outputs": "output", "variables": "vars",
    "inputs": "input", "timeout_seconds": "timeout", "max_retries": "count", "retry_count": "count",
    "when": "on_error",
    "attempts": "count", "interval": "delay", "wait": "delay",
}


def _suggest(word: str, choices: set[str] | list[str], synonyms: bool = False) -> str:
    """A " (did you mean 'X'?)" hint naming the closest choice, or ""."""
    synonym = _FIELD_SYNONYMS.get(word.lower().replace("-", "_")) if synonyms else None
    if synonym in choices:
        return f" (did you mean '{synonym}'?)"
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.75)
    if not match:
        match = difflib.get_close_matches(word.lower().replace("-", "_"), sorted(choices), n=1, cutoff=0.75)
    return f" (did you mean '{match[0]}'?)" if match else ""


# Names other engines' templates use (the seed project's Attune above all), with what to write here.
_NAME_HINTS = {
    "config": "relayflow has no pack configuration; pass the value as an input (input.NAME) or read it "
              "inside the action",
    "keystore": "relayflow has no key store; pass the name of a secret (e.g. in AWS Secrets Manager) as an "
                "input and read the secret inside the action",
    "st2kv": "relayflow has no key-value store; pass the value as an input (input.NAME), or the name of a "
             "secret and read it inside the action",
    "inquiry": "relayflow has no inquiry namespace; a 'core.ask' task's result is the response "
               "(task.ASK.result)",
    "cancelled": "a cancelled task fires no transitions, so there is nothing to test; remove the condition "
                 "(use on_complete for an entry that fires on every other outcome)",
    "now": "templates cannot read the clock; use system.started_at (the execution's start, epoch seconds)",
    "uuid": "templates cannot make ids; use system.execution_id",
    "null": "write 'none' (Jinja's null)",
    "ctx": "StackStorm's ctx(); write 'vars.NAME' for a published variable or 'input.NAME' for an input",
    "completed": "an entry without 'when' fires on every outcome (or use on_complete)",
}
# Attune's expression functions that are Jinja filters or methods here.
_FUNCTION_HINTS = {
    "string": "'X | string'", "number": "'X | float'", "int": "'X | int'", "float": "'X | float'",
    "bool": "'X' (a condition already uses the truth of X)", "type_of":
        "a Jinja test: 'X is string', 'X is number', 'X is mapping', 'X is sequence', 'X is none'",
    "abs": "'X | abs'", "floor": "'X | round(0, \"floor\") | int'", "ceil": "'X | round(0, \"ceil\") | int'",
    "round": "'X | round | int'", "min": "'[A, B] | min'", "max": "'[A, B] | max'", "sum": "'X | sum'",
    "trim": "'X | trim'", "replace": "'S | replace(OLD, NEW)'", "starts_with": "'S.startswith(P)'",
    "ends_with": "'S.endswith(P)'", "match": "'P in S' for a substring (templates have no regular "
                                            "expressions; test a pattern inside an action)",
    "reversed": "'X | reverse | list'", "sort": "'X | sort'", "unique": "'X | unique | list'",
    "flat": "'X | sum(start=[])'", "zip": "the pairs from an action (templates have no zip)",
    "slice": "'X[START:END]'", "index_of": "'X.index(V)' (an error when V is absent)", "count": "'X.count(V)'",
    "chunks": "'X | batch(N) | list'",
}

"""Which code a workflow may name: the action modules a deployment declares.

``python:<module>:<function>`` resolves only inside the declared action
modules (``RELAYFLOW_ACTION_MODULES`` on AWS, ``--action-module`` for
``relayflow run`` / ``serve``) and, for ``run`` and ``test``, the modules in
the workflow's own folder. Never the standard library, installed packages or
relayflow itself: a definition is untrusted, and naming ``os:system`` or
``builtins:eval`` would otherwise run anything in the worker.

``aws.lambda`` reaches only the functions of its own stack: names that start
with the prefix the stack owns, in the stack's own account and region
(``RELAYFLOW_LAMBDA_PREFIX``, an ARN prefix); IAM allows the same and nothing else.
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import sysconfig
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from .errors import ActionNotAllowed, UnknownAction

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# Never action modules, whatever a deployment declares: the engine itself, its handlers,
# and what ships with Python.
_RESERVED = frozenset({"relayflow", "functions", "builtins", "__main__", "site", "sitecustomize",
                       "usercustomize"}) | frozenset(sys.stdlib_module_names)


def _dirs_not_allowed() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k)}
    found.add(os.path.realpath(os.path.dirname(os.path.dirname(__file__))))  # relayflow itself
    return tuple(sorted(found))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def modules_in_folder(folder: str) -> list[str]:
    """The importable modules in ``folder``: ``x.py`` files and packages (``x/__init__.py``)."""
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for entry in entries:
        path = os.path.join(folder, entry)
        name = entry[:-3] if entry.endswith(".py") and os.path.isfile(path) else (
            entry if os.path.isfile(os.path.join(path, "__init__.py")) else None)
        if name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name not in _RESERVED:
            out.append(name)
    return out


class ActionModules:
    """The declared action modules: dotted module names and the folders whose modules count.

    A declared name covers itself and its submodules (``acme.actions`` allows
    ``acme.actions.deploy``).
    """

    def __init__(self, modules: Iterable[str] = (), folders: Iterable[str] = ()):
        names = []
        for raw in modules:
            name = raw.strip()
            if not name:
                continue
            problem = self.declaration_problem(name)
            if problem:
                raise ValueError(problem)
            names.append(name)
        self.folders = tuple(os.path.realpath(f) for f in folders)
        self._folder_modules = {m for folder in self.folders for m in modules_in_folder(folder)}
        names += sorted(self._folder_modules)
        self.modules = tuple(dict.fromkeys(names))

    @staticmethod
    def declaration_problem(name: str) -> str | None:
        if not _NAME.fullmatch(name):
            return f"{name!r} is not a module name"
        if name.split(".")[0] in _RESERVED:
            return f"{name!r} cannot be an action module: the standard library and relayflow are never actions"
        return None

    @classmethod
    def from_setting(cls, value: str | None) -> ActionModules:
        """``RELAYFLOW_ACTION_MODULES``: module names separated by commas or spaces."""
        return cls([m for m in re.split(r"[,\s]+", value or "") if m])

    def __bool__(self) -> bool:
        return bool(self.modules)

    def declares(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def check(self, action: str) -> str | None:
        """Why ``action`` (a ``python:`` reference) may not run here, or None when it may."""
        parts = action.split(":")
        if len(parts) != 3 or not _NAME.fullmatch(parts[1]) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", parts[2]):
            return "write a python action as python:<module>:<function> (a public function's name)"
        module = parts[1]
        if module.split(".")[0] in _RESERVED:
            return (f"module {module!r} is not an action module: the standard library and relayflow "
                    "are never actions")
        if not self.declares(module):
            declared = ", ".join(self.modules) if self.modules else "none"
            return (f"module {module!r} is not a declared action module (declared: {declared}); "
                    "declare it with RELAYFLOW_ACTION_MODULES (template parameter ActionModules) or "
                    "--action-module, or put it beside the workflow for relayflow run / test")
        return None

    def load(self, action: str) -> Callable[..., Any]:
        """The function ``action`` names, after checking it against the declaration."""
        reason = self.check(action)
        if reason:
            raise ActionNotAllowed(f"{action!r}: {reason}")
        _, module_name, func_name = action.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UnknownAction(f"{action!r}: cannot import module {module_name!r}: {exc}") from None
        self._check_location(action, module)
        fn = vars(module).get(func_name)
        # Only a function the module itself defines: not one it imported (``from os import system``),
        # a class, or a module.
        if not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            raise UnknownAction(f"{action!r}: module {module_name!r} defines no function {func_name!r}")
        return fn

    def _check_location(self, action: str, module: ModuleType) -> None:
        path = getattr(module, "__file__", None)
        if not path:
            raise ActionNotAllowed(f"{action!r}: module {module.__name__!r} has no source file (built-in)")
        path = os.path.realpath(path)
        top = module.__name__.split(".")[0]
        if top in self._folder_modules:
            # A module named like one beside the workflow must be that file, not a namesake on sys.path.
            if not any(_inside(path, f) for f in self.folders):
                raise ActionNotAllowed(f"{action!r}: module {module.__name__!r} was loaded from {path}, "
                                       "not from the workflow's folder")
            return
        for folder in _dirs_not_allowed():
            if _inside(path, folder):
                raise ActionNotAllowed(f"{action!r}: module {module.__name__!r} comes from {folder} "
                                       "(the standard library, installed packages or relayflow), never an action")


# -- aws.lambda -------------------------------------------------------------------
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?")


_HOME = re.compile(r"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)(.*)")


def lambda_target_problem(function: Any, prefix: str | None) -> str | None:
    """Why ``aws.lambda`` may not invoke ``function`` on a stack that owns ``prefix``.

    ``prefix`` is a name prefix (``prod-action-``) or, as the template passes it, one whose
    ARN also names the stack's partition, region and account
    (``arn:aws:lambda:eu-west-1:123456789012:function:prod-action-``): then an ARN target must
    name that same region and account, as the worker's role does.
    """
    if not isinstance(function, str) or not function:
        return "aws.lambda needs input.function (a function name or ARN)"
    if prefix is None:
        return None
    home_match = _HOME.fullmatch(prefix)
    home, name_prefix = (home_match.group(1), home_match.group(2)) if home_match else (None, prefix)
    m = _ARN.fullmatch(function)
    name = m.group(1) if m else function.split(":")[0]
    if not (m or _FUNCTION_NAME.fullmatch(name) and re.fullmatch(r"[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?", function)):
        return f"{function!r} is not a Lambda function name or ARN"
    if not name.startswith(name_prefix):
        return (f"aws.lambda may invoke only this stack's functions (names starting with {name_prefix!r}), "
                f"not {name!r}")
    if m and home is not None and not function.startswith(home):
        return (f"aws.lambda may invoke only this stack's functions, in its own account and region "
                f"({home}...), not {function!r}")
    return None

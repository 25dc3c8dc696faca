"""The pure core: workflow definitions in, record changes and commands out. It imports
nothing from AWS (a test enforces it).

- ``loader/`` YAML to a validated ``spec.WorkflowSpec``; ``graph`` its task graph;
  ``yamlpos`` line numbers (``yamlfast`` the quick reading of a plain document, ``yamlblock``
  the quickest, of plain block YAML);
  ``inputs`` a workflow's input and initial variables
- ``conductor/`` the state machine, one event at a time; ``units/`` the kinds of unit
  (action, callback, sleep, ask, child workflow); ``builtins`` the core.* actions;
  ``listener`` what the conductor tells an observer
- ``status`` every status and the allowed changes; ``records`` and ``session`` the
  records a step reads and writes; ``messages`` events and commands
- ``templates/`` the Jinja sandbox; ``context`` the names templates see; ``values`` what
  a value may be (JSON); ``retry`` backoff delays; ``versioning`` a spec's content version
- ``errors`` the errors the core raises
"""

__all__ = [
    "builtins", "conductor", "context", "errors", "graph", "inputs", "listener", "loader", "messages", "records",
    "retry", "session", "spec", "status", "templates", "units", "values", "versioning", "yamlblock", "yamlfast",
    "yamlpos",
]

"""The actions: the built-ins, the allow-list of python: modules, the registry and the worker
that runs an attempt. Import the module you need; nothing is re-exported here."""

__all__: list[str] = []

"""The embedded stack: moto, the same Lambda handlers and a pump that plays their event
sources and the Scheduler, held to AWS's documented rules (``contract``)."""

__all__: list[str] = []

"""The HTTP API: its OpenAPI document (``document``), the request checks it drives
(``requests``), its errors (``errors``) and its routes (``routes``, a Powertools resolver that
``functions/api/app.py`` serves on Lambda and ``relayflow serve`` on this machine).

Nothing is imported here, so the service can use ``api.errors`` without loading the routes.
"""

__all__: list[str] = []

"""The HTTP API's Lambda handler (API Gateway REST, IAM auth).

The routes, the request checks and the error answers live in the package
(``relayflow.api.routes``); ``relayflow serve`` runs this very handler behind a local
HTTP server.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from relayflow.api.routes import app, get_service, logger, set_service, tracer

__all__ = ["app", "get_service", "handler", "logger", "set_service"]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

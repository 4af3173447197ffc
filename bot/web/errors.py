"""One place that maps failures to HTTP answers: JSON errors, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.db.session import is_unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    """An error body: ``{"error": message}``."""
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP errors become JSON; anything unexpected is logged and becomes a plain 500."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return json_error(exc.status, exc.reason)
    except Exception as exc:
        if is_unavailable(exc):
            # Nothing was stored, so ask to retry (the platforms redeliver webhooks that are
            # not answered 200).
            log.warning(
                "database unavailable on %s %s: %s",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return web.json_response(
                {"error": "service temporarily unavailable"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal error")

"""Liveness and readiness."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot.web import keys


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers; used by docker-compose and the run command."""
    try:
        async with request.app[keys.SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return web.json_response({"status": "error", "database": str(exc)}, status=503)
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    """Register the health route."""
    app.router.add_get("/healthz", healthz)

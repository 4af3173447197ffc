"""The console's routes."""

from __future__ import annotations

from aiohttp import web

from bot.web.console import api, auth


def add_routes(app: web.Application) -> None:
    """Register the console API."""
    app.router.add_post("/console/api/login", auth.login)
    app.router.add_post("/console/api/logout", auth.logout)
    app.router.add_get("/console/api/me", auth.me)
    app.router.add_get("/console/api/queue", api.queue)
    app.router.add_get("/console/api/conversations/{conversation_id}", api.conversation)
    base = "/console/api/conversations/{conversation_id}"
    app.router.add_post(f"{base}/take", api.take)
    app.router.add_post(f"{base}/reply", api.reply)
    app.router.add_post(f"{base}/handback", api.hand_back)
    app.router.add_post(f"{base}/close", api.hand_back)

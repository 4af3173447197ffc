"""The console's routes."""

from __future__ import annotations

from aiohttp import web

from bot.web.console import admin, api, auth, events, faq, pages


def add_routes(app: web.Application) -> None:
    """Register the console's pages and API."""
    pages.add_routes(app)
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
    app.router.add_get("/console/api/events", events.events)
    app.router.add_get("/console/api/faq", faq.list_entries)
    app.router.add_get("/console/api/faq/drafts", faq.list_drafts)
    app.router.add_post("/console/api/faq/drafts", faq.make_draft)
    app.router.add_put("/console/api/faq/{slug}", faq.edit_entry)
    app.router.add_get("/console/api/faq/{slug}/history", faq.history)
    app.router.add_get("/console/api/reports", admin.reports)
    app.router.add_get("/console/api/audit", admin.audit)
    app.router.add_get("/console/api/staff", admin.list_staff)
    app.router.add_post("/console/api/staff", admin.create_staff)
    app.router.add_put("/console/api/staff/{user_id}", admin.update_staff)

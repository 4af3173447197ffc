"""The sandbox chat: the page at /chat and its JSON API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from bot.channels.sandbox import CHANNEL
from bot.channels.sandbox.parse import SESSION_RE, InvalidSandboxMessage, parse_message
from bot.db.models import Conversation, Message, OutboxItem
from bot.web import keys
from bot.web.body import BadJson, parse_json
from bot.web.errors import json_error

STATIC = Path(__file__).with_name("static")
MAX_LISTED = 200


async def chat_page(request: web.Request) -> web.FileResponse:
    """The member's chat window."""
    return web.FileResponse(STATIC / "chat.html")


async def post_message(request: web.Request) -> web.Response:
    """Store a member's message; the reply arrives through ``GET /api/sandbox/messages``."""
    raw = await request.read()
    try:
        body = parse_json(raw)
    except BadJson:
        return json_error(400, "body is not valid JSON")
    settings = request.app[keys.SETTINGS]
    try:
        inbound = parse_message(body, settings.sandbox_page_id)
    except InvalidSandboxMessage as exc:
        return json_error(400, str(exc))
    recorded = await request.app[keys.INBOX].record(inbound)
    status = 200 if recorded.duplicate else 202
    return web.json_response(
        {
            "message_id": recorded.message_id,
            "conversation_id": recorded.conversation_id,
            "duplicate": recorded.duplicate,
        },
        status=status,
    )


async def list_messages(request: web.Request) -> web.Response:
    """The member's side of the conversation: their messages and the replies delivered."""
    session_id = request.query.get("session", "")
    if not SESSION_RE.match(session_id):
        return json_error(400, "session must be 8-64 letters, digits, _ or -")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return json_error(400, "after must be an integer")
    settings = request.app[keys.SETTINGS]
    async with request.app[keys.SESSIONS]() as session:
        conversation = (
            await session.execute(
                select(Conversation).filter_by(
                    channel=CHANNEL, page_id=settings.sandbox_page_id, user_id=session_id
                )
            )
        ).scalar_one_or_none()
        if conversation is None:
            return web.json_response({"mode": "bot", "messages": []})
        rows = await session.execute(
            select(Message)
            .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
            .where(Message.conversation_id == conversation.id, Message.id > after)
            .where((Message.direction == "in") | (OutboxItem.status == "sent"))
            .order_by(Message.id)
            .limit(MAX_LISTED)
        )
        messages = [
            {
                "id": m.id,
                "author": m.author,
                "kind": m.kind,
                "text": m.text,
                "quick_replies": (m.data or {}).get("quick_replies", []),
                "created_at": m.created_at.isoformat(),
            }
            for m in rows.scalars()
        ]
    return web.json_response({"mode": conversation.mode, "messages": messages})


def add_routes(app: web.Application) -> None:
    """Register the sandbox routes."""
    app.router.add_get("/chat", chat_page)
    app.router.add_post("/api/sandbox/messages", post_message)
    app.router.add_get("/api/sandbox/messages", list_messages)
    app.router.add_static("/static/", STATIC)

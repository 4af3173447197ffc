"""Live updates for the console: server-sent events when the user's queue changes.

Each open console polls the database once a second on the server side, so updates reach every
gateway process's users whichever process stored the change.
"""

from __future__ import annotations

import asyncio
import hashlib
import json

from aiohttp import web
from sqlalchemy import func, select

from bot.db.models import Conversation, Message, Question
from bot.web import keys
from bot.web.console.auth import Staff, current_staff, require_staff, scope_filter

POLL_SECONDS = 1.0
KEEPALIVE_EVERY = 15


async def queue_version(request: web.Request, found: Staff) -> str:
    """A fingerprint of the user's queue: changes when anything shown in it changes."""
    async with request.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(
                Conversation.id,
                Conversation.mode,
                Conversation.holder_id,
                func.max(Message.id),
                func.max(Question.id),
            )
            .outerjoin(Message, Message.conversation_id == Conversation.id)
            .outerjoin(
                Question,
                (Question.conversation_id == Conversation.id) & (Question.status == "open"),
            )
            .where(Conversation.mode.in_(("waiting_staff", "staff")))
            .where(scope_filter(found))
            .group_by(Conversation.id, Conversation.mode, Conversation.holder_id)
            .order_by(Conversation.id)
        )
        fingerprint = repr([tuple(row) for row in rows])
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /console/api/events``: ``event: queue`` whenever the queue changes."""
    found = await require_staff(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    last, quiet = None, 0
    try:
        while True:
            version = await queue_version(request, found)
            if version != last:
                await response.write(
                    f"event: queue\ndata: {json.dumps({'version': version})}\n\n".encode()
                )
                last, quiet = version, 0
            elif quiet >= KEEPALIVE_EVERY:
                if await current_staff(request) is None:  # signed out or expired meanwhile
                    break
                await response.write(b": keep-alive\n\n")
                quiet = 0
            quiet += 1
            await asyncio.sleep(POLL_SECONDS)
    except ConnectionResetError:  # the browser went away
        pass
    return response

"""The console's JSON API: the queue, a conversation, and what staff do in it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot.channels.windows import staff_window
from bot.db.models import (
    Conversation,
    DeadlineWarning,
    Message,
    OutboxItem,
    Question,
    StaffUser,
)
from bot.ops import staff as staff_ops
from bot.ops import takeover
from bot.web import keys
from bot.web.body import json_body
from bot.web.console.auth import Staff, conversation_in_scope, require_staff, scope_filter
from bot.web.errors import json_error

MAX_REPLY = 4000
HISTORY_LIMIT = 500


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


async def queue(request: web.Request) -> web.Response:
    """``GET /console/api/queue``: conversations waiting for or held by staff, by time left."""
    found = await require_staff(request)
    now = request.app[keys.CLOCK]()
    last_in = (
        select(Message.conversation_id, func.max(Message.id).label("message_id"))
        .where(Message.direction == "in")
        .group_by(Message.conversation_id)
        .subquery()
    )
    async with request.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(Conversation, Question, StaffUser.display_name, Message.text)
            .outerjoin(
                Question,
                (Question.conversation_id == Conversation.id) & (Question.status == "open"),
            )
            .outerjoin(StaffUser, StaffUser.id == Conversation.holder_id)
            .outerjoin(last_in, last_in.c.conversation_id == Conversation.id)
            .outerjoin(Message, Message.id == last_in.c.message_id)
            .where(Conversation.mode.in_(("waiting_staff", "staff")))
            .where(scope_filter(found))
        )
        items = [
            {
                "id": conversation.id,
                "channel": conversation.channel,
                "page_id": conversation.page_id,
                "mode": conversation.mode,
                "holder": holder,
                "last_message": last_text or "",
                "due_at": _iso(question.due_at) if question else None,
                "seconds_left": (question.due_at - now).total_seconds() if question else None,
                "topic": (question.topic_guess or question.faq_slug) if question else None,
            }
            for conversation, question, holder, last_text in rows.all()
        ]
        warned = await session.execute(
            select(DeadlineWarning.conversation_id, DeadlineWarning.kind, DeadlineWarning.deadline)
            .join(Question, Question.id == DeadlineWarning.question_id)
            .where(Question.status == "open")
            .where(DeadlineWarning.conversation_id.in_([i["id"] for i in items]))
        )
        warnings: dict[int, dict[str, str]] = {}
        for conversation_id, kind, deadline in warned:
            warnings.setdefault(conversation_id, {})[kind] = deadline.isoformat()
    for item in items:
        # the deadline sweep's warnings: due_6h, due_2h, window (with when it closes), breach
        item["warnings"] = warnings.get(item["id"], {})
    items.sort(key=lambda i: (i["seconds_left"] is None, i["seconds_left"] or 0))
    return web.json_response({"conversations": items})


async def conversation(request: web.Request) -> web.Response:
    """``GET /console/api/conversations/{id}``: the history, the window and who holds it."""
    found = await require_staff(request)
    convo = await conversation_in_scope(request, found)
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(Message, OutboxItem.status, OutboxItem.last_error)
            .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
            .where(Message.conversation_id == convo.id)
            .order_by(Message.id)
            .limit(HISTORY_LIMIT)
        )
        history = [
            {
                "id": m.id,
                "direction": m.direction,
                "author": m.author,
                "kind": m.kind,
                "text": m.text,
                "at": _iso(m.created_at),
                "delivery": status,
                "error": (m.data or {}).get("send_error")
                or (error if status == "failed" else None),
                "staff": (m.data or {}).get("staff_name"),
            }
            for m, status, error in rows.all()
        ]
        holder = await session.get(StaffUser, convo.holder_id) if convo.holder_id else None
    page = request.app[keys.SETTINGS].accounts.facebook.get(convo.page_id)
    window = staff_window(
        convo.channel, convo.last_member_message_at, now, bool(page and page.human_agent)
    )
    return web.json_response(
        {
            "id": convo.id,
            "channel": convo.channel,
            "page_id": convo.page_id,
            "mode": convo.mode,
            "holder": holder.display_name if holder else None,
            "held_by_me": convo.holder_id == found.user.id,
            "window": {"can_reply": window.can_reply, "note": window.note},
            "messages": history,
        }
    )


async def take(request: web.Request) -> web.Response:
    """``POST .../take``: hold the conversation; 409 if someone else holds it."""
    found = await require_staff(request)
    convo = await conversation_in_scope(request, found)
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        taken = await takeover.do_take(session, convo.id, found.user, now)
        if taken:
            await staff_ops.do_audit(
                session, found.user.id, "take", f"conversation:{convo.id}", now
            )
    if not taken:
        return json_error(409, "Cán bộ khác đang xử lý cuộc trò chuyện này.")
    return web.json_response({"ok": True})


async def _held(request: web.Request) -> tuple[Staff, Conversation]:
    found = await require_staff(request)
    convo = await conversation_in_scope(request, found)
    if not takeover.may_act(convo, found.user):
        raise web.HTTPConflict(
            text='{"error": "Hãy nhận xử lý cuộc trò chuyện trước."}',
            content_type="application/json",
        )
    return found, convo


async def reply(request: web.Request) -> web.Response:
    """``POST .../reply`` with ``{"text"}``: queue a staff reply through the outbox."""
    found, convo = await _held(request)
    try:
        text = str((await json_body(request))["text"]).strip()
    except (ValueError, KeyError, TypeError):
        return json_error(400, "Thiếu nội dung trả lời.")
    if not text or len(text) > MAX_REPLY:
        return json_error(400, f"Nội dung trả lời cần từ 1 đến {MAX_REPLY} ký tự.")
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        current = await session.get(Conversation, convo.id)
        messages = await takeover.do_reply(session, current, found.user, text, now)
        await staff_ops.do_audit(session, found.user.id, "reply", f"conversation:{convo.id}", now)
    request.app[keys.OUTBOX_WAKEUP].notify()
    return web.json_response({"message_ids": [m.id for m in messages]}, status=202)


async def hand_back(request: web.Request) -> web.Response:
    """``POST .../handback`` or ``.../close``: the bot answers the member's next message."""
    found, convo = await _held(request)
    action = request.path.rsplit("/", 1)[-1]
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        current = await session.get(Conversation, convo.id)
        await takeover.do_hand_back(session, current, now)
        await staff_ops.do_audit(session, found.user.id, action, f"conversation:{convo.id}", now)
    return web.json_response({"ok": True})

"""FAQ management in the console: search, edit with history, drafts from staff answers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.db.models import Conversation, FaqDraft, FaqEntry, FaqRevision, Message, StaffUser
from bot.ops import faq as faq_ops
from bot.ops import staff as staff_ops
from bot.web import keys
from bot.web.body import json_body
from bot.web.console.auth import conversation_in_scope, require_staff, scope_filter
from bot.web.errors import json_error
from nlu.normalize import normalize

REVIEW_AFTER = dt.timedelta(days=180)
DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
MAX_FIELD = 5000


def flags(entry: FaqEntry, today: dt.date) -> list[str]:
    """``stale``: not reviewed for six months; ``newer_rule``: a date in its note has come."""
    found = []
    if today - entry.reviewed > REVIEW_AFTER:
        found.append("stale")
    for day, month, year in DATE_RE.findall(entry.effective_note or ""):
        try:
            noted = dt.date(int(year), int(month), int(day))
        except ValueError:
            continue
        if entry.effective_from < noted <= today and entry.reviewed < noted:
            found.append("newer_rule")
            break
    return found


def entry_json(entry: FaqEntry, today: dt.date) -> dict[str, Any]:
    """An entry as the console shows it."""
    return {
        "slug": entry.slug,
        "category": entry.category,
        "question": entry.question,
        "answer": entry.answer,
        "legal_source": entry.legal_source,
        "effective_from": entry.effective_from.isoformat(),
        "effective_note": entry.effective_note,
        "reviewed": entry.reviewed.isoformat(),
        "sensitive": entry.sensitive,
        "flags": flags(entry, today),
    }


async def list_entries(request: web.Request) -> web.Response:
    """``GET /console/api/faq?q=``: every entry, or those matching ``q`` (diacritics optional)."""
    await require_staff(request)
    query = normalize(request.query.get("q", ""))
    today = request.app[keys.CLOCK]().date()
    async with request.app[keys.SESSIONS]() as session:
        entries = (await session.execute(select(FaqEntry).order_by(FaqEntry.slug))).scalars()
        matching = [
            e
            for e in entries
            if not query
            or query in normalize(" ".join((e.slug.replace("_", " "), e.question, e.answer)))
        ]
    return web.json_response({"entries": [entry_json(e, today) for e in matching]})


async def edit_entry(request: web.Request) -> web.Response:
    """``PUT /console/api/faq/{slug}``: change the answer, source or effective date."""
    found = await require_staff(request)
    try:
        body = await json_body(request)
        changes = {
            "answer": str(body["answer"]).strip(),
            "legal_source": str(body["legal_source"]).strip(),
            "effective_from": dt.date.fromisoformat(str(body["effective_from"])),
        }
    except (ValueError, KeyError, TypeError):
        return json_error(400, "Cần câu trả lời, căn cứ pháp lý và ngày áp dụng (YYYY-MM-DD).")
    if not all(changes.values()) or any(len(str(v)) > MAX_FIELD for v in changes.values()):
        return json_error(400, "Câu trả lời và căn cứ không được để trống hoặc quá dài.")
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        entry = await session.get(FaqEntry, request.match_info["slug"])
        if entry is None:
            return json_error(404, "Không có câu hỏi mẫu này.")
        if await faq_ops.do_edit_faq(session, entry, changes, found.user.id, now):
            await staff_ops.do_audit(session, found.user.id, "faq_edit", entry.slug, now)
        shown = entry_json(entry, now.date())
    return web.json_response(shown)


async def history(request: web.Request) -> web.Response:
    """``GET /console/api/faq/{slug}/history``: who changed what, newest first."""
    await require_staff(request)
    async with request.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(FaqRevision, StaffUser.display_name)
            .outerjoin(StaffUser, StaffUser.id == FaqRevision.user_id)
            .where(FaqRevision.slug == request.match_info["slug"])
            .order_by(FaqRevision.id.desc())
        )
        revisions = [
            {"at": r.created_at.isoformat(), "by": name, "before": r.before, "after": r.after}
            for r, name in rows.all()
        ]
    return web.json_response({"revisions": revisions})


async def make_draft(request: web.Request) -> web.Response:
    """``POST /console/api/faq/drafts`` with a staff reply: a draft entry from it."""
    found = await require_staff(request)
    try:
        body = await json_body(request)
        conversation_id, message_id = int(body["conversation_id"]), int(body["message_id"])
    except (ValueError, KeyError, TypeError):
        return json_error(400, "Cần cuộc trò chuyện và câu trả lời của cán bộ.")
    conversation = await conversation_in_scope(request, found, conversation_id)
    now = request.app[keys.CLOCK]()
    async with request.app[keys.SESSIONS]() as session, session.begin():
        answer = await session.get(Message, message_id)
        if answer is None or answer.conversation_id != conversation.id or answer.author != "staff":
            return json_error(404, "Không tìm thấy câu trả lời của cán bộ.")
        question = await session.scalar(
            select(Message.text)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == "in",
                Message.id < message_id,
                Message.text != "",
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        draft = await faq_ops.do_make_draft(
            session,
            question=question or "",
            answer=answer.text,
            conversation_id=conversation.id,
            message_id=message_id,
            user_id=found.user.id,
            now=now,
        )
        if draft is None:
            return json_error(409, "Câu trả lời này đã có bản nháp.")
        await staff_ops.do_audit(session, found.user.id, "faq_draft", f"draft:{draft.id}", now)
        shown = {"id": draft.id, "question": draft.question, "answer": draft.answer}
    return web.json_response(shown, status=201)


async def list_drafts(request: web.Request) -> web.Response:
    """``GET /console/api/faq/drafts``: drafts from conversations on the user's pages."""
    found = await require_staff(request)
    async with request.app[keys.SESSIONS]() as session:
        drafts = (
            await session.execute(
                select(FaqDraft)
                .join(Conversation, Conversation.id == FaqDraft.conversation_id)
                .where(scope_filter(found))
                .order_by(FaqDraft.id.desc())
            )
        ).scalars()
        shown = [
            {
                "id": d.id,
                "question": d.question,
                "answer": d.answer,
                "at": d.created_at.isoformat(),
            }
            for d in drafts
        ]
    return web.json_response({"drafts": shown})

"""A database with members' conversations of every kind retention and erasure meet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Conversation,
    DeadlineWarning,
    DispatchJob,
    FaqDraft,
    FaqFeedback,
    Message,
    Notification,
    OutboxItem,
    Question,
)
from bot.reports.command import report
from bot.reports.export import to_csv, to_text
from bot.reports.ledger_report import period_bounds

PAGE = "1234567890123"
OA = "3662729599332560487"
PSID = "6912345678901234"
ZALO_USER = "6142494823190184727"
NAME = "Nguyễn Thị Hoa"
PHONE = "0912 345 678"
EMAIL = "hoa.nguyen@example.com"
FIRST_QUESTION = f"Tôi là {NAME}, công ty Dệt Phú Lâm nợ lương 3 tháng, gọi {PHONE} hoặc {EMAIL}"
SECOND_QUESTION = "Thử việc ở Dệt Phú Lâm hai lần có đúng luật không?"
STAFF_REPLY = "Chào chị Hoa, công ty chỉ được thử việc một lần."
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Seeded:
    """Conversation ids by situation, and the members' platform ids."""

    old: int  # idle for 400 days, answered questions, feedback, a draft, warnings
    stickers: int  # idle, a sticker only: nothing of the ledger points to it
    open_question: int  # idle for 500 days, but its question is still open
    recent: int  # old questions, and a new message 10 days ago
    sandbox: int  # the test chat, idle for 370 days
    user_ids: dict[int, str]


class Writer:
    """Adds rows in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Any) -> Any:
        self.session.add(row)
        await self.session.flush()
        return row

    async def conversation(
        self, channel: str, page: str, user: str, created: dt.datetime
    ) -> Conversation:
        return await self.add(
            Conversation(
                channel=channel,
                page_id=page,
                user_id=user,
                mode="bot",
                mode_changed_at=created,
                created_at=created,
                last_member_message_at=created,
            )
        )

    async def message(
        self,
        convo: Conversation,
        author: str,
        text: str,
        at: dt.datetime,
        kind: str = "text",
        data: dict[str, Any] | None = None,
        pmid: str | None = None,
    ) -> Message:
        inbound = author == "member"
        message = await self.add(
            Message(
                conversation_id=convo.id,
                channel=convo.channel,
                direction="in" if inbound else "out",
                author=author,
                kind=kind,
                text=text,
                data=data or {},
                platform_message_id=pmid,
                platform_ts=at if inbound else None,
                created_at=at,
            )
        )
        if inbound:
            convo.last_member_message_at = at
            await self.add(
                DispatchJob(
                    conversation_id=convo.id,
                    message_id=message.id,
                    status="done",
                    attempts=1,
                    next_attempt_at=at,
                    created_at=at,
                    finished_at=at,
                )
            )
        elif pmid:
            await self.add(
                OutboxItem(
                    conversation_id=convo.id,
                    message_id=message.id,
                    status="sent",
                    attempts=2,
                    next_attempt_at=at,
                    created_at=at,
                    sent_at=at,
                    platform_message_id=pmid,
                    last_error=f"Facebook trả lời không có message_id: {{'recipient_id': "
                    f"'{convo.user_id}'}}",
                )
            )
        return message

    async def question(
        self,
        convo: Conversation,
        first: Message,
        answer: Message | None,
        by: str | None = None,
        category: str | None = None,
    ) -> Question:
        opened = first.created_at
        return await self.add(
            Question(
                conversation_id=convo.id,
                status="answered" if answer else "open",
                first_message_id=first.id,
                last_message_id=first.id,
                opened_at=opened,
                due_at=opened + DAY,
                escalated_at=opened + dt.timedelta(minutes=5) if by == "staff" else None,
                answered_at=answer.created_at if answer else None,
                answered_by=by,
                answer_message_id=answer.id if answer else None,
                faq_slug="thu_viec" if by == "bot" else None,
                channel=convo.channel,
                page_id=convo.page_id,
                category=category,
                staff_id="lan" if by == "staff" else None,
                met_deadline=(answer.created_at <= opened + DAY) if answer else None,
                reopen_count=0,
            )
        )


async def _old(w: Writer, now: dt.datetime) -> Conversation:
    t0 = now - 400 * DAY
    convo = await w.conversation("facebook", PAGE, PSID, t0)
    attachment = {"type": "file", "payload": {"url": "https://cdn.example/hop-dong-hoa.pdf"}}
    m1 = await w.message(
        convo, "member", FIRST_QUESTION, t0, data={"attachments": [attachment]}, pmid="m_old_1"
    )
    m2 = await w.message(
        convo,
        "bot",
        "Lương phải trả đúng hạn (BLLĐ 2019 Điều 94).",
        t0 + dt.timedelta(minutes=1),
        kind="answer",
        data={"faq": "thu_viec"},
        pmid="m_old_2",
    )
    m3 = await w.message(
        convo,
        "member",
        "Hữu ích",
        t0 + dt.timedelta(minutes=2),
        data={"payload": "/feedback_helpful"},
        pmid="m_old_3",
    )
    m4 = await w.message(convo, "member", SECOND_QUESTION, t0 + DAY, pmid="m_old_4")
    m5 = await w.message(
        convo, "staff", STAFF_REPLY, t0 + DAY + dt.timedelta(hours=2), pmid="m_old_5"
    )
    await w.message(convo, "member", "", t0 + 2 * DAY, data={"attachments": [{"type": "sticker"}]})
    await w.message(convo, "bot", "Cảm ơn chị!", t0 + 2 * DAY, kind="chitchat", pmid="m_old_7")
    await w.question(convo, m1, m2, by="bot", category="law")
    q2 = await w.question(convo, m4, m5, by="staff")
    await w.add(
        FaqFeedback(
            faq_slug="thu_viec",
            verdict="helpful",
            conversation_id=convo.id,
            answer_message_id=m2.id,
            member_message_id=m3.id,
            created_at=m3.created_at,
        )
    )
    await w.add(
        FaqDraft(
            question=SECOND_QUESTION,
            answer=STAFF_REPLY,
            conversation_id=convo.id,
            message_id=m5.id,
            created_at=m5.created_at,
        )
    )
    warning = await w.add(
        DeadlineWarning(
            question_id=q2.id,
            conversation_id=convo.id,
            kind="due_6h",
            deadline=q2.due_at,
            created_at=q2.due_at - dt.timedelta(hours=6),
        )
    )
    await w.add(
        Notification(
            warning_id=warning.id,
            conversation_id=convo.id,
            target="email",
            status="sent",
            attempts=1,
            next_attempt_at=warning.created_at,
            created_at=warning.created_at,
            sent_at=warning.created_at,
        )
    )
    convo.mode_changed_at = t0 + DAY + dt.timedelta(hours=3)
    return convo


async def seed(session: AsyncSession, now: dt.datetime) -> Seeded:
    """Five conversations; see :class:`Seeded`."""
    w = Writer(session)
    old = await _old(w, now)

    stickers = await w.conversation("zalo", OA, ZALO_USER, now - 410 * DAY)
    await w.message(
        stickers, "member", "", now - 410 * DAY, data={"attachments": [{"type": "sticker"}]}
    )

    waiting = await w.conversation("facebook", PAGE, "6900000000000001", now - 500 * DAY)
    asked = await w.message(waiting, "member", "Công ty nợ bảo hiểm", now - 500 * DAY)
    await w.question(waiting, asked, None)

    recent = await w.conversation("facebook", PAGE, "6900000000000002", now - 420 * DAY)
    early = await w.message(recent, "member", "Lương tối thiểu vùng 1?", now - 420 * DAY)
    reply = await w.message(
        recent, "bot", "4.960.000 đồng", now - 420 * DAY, kind="answer", pmid="m_r2"
    )
    await w.question(recent, early, reply, by="bot", category="policy")
    again = await w.message(recent, "member", "Còn vùng 2?", now - 10 * DAY)
    reply = await w.message(
        recent, "bot", "4.410.000 đồng", now - 10 * DAY, kind="answer", pmid="m_r4"
    )
    await w.question(recent, again, reply, by="bot", category="policy")

    chat = await w.conversation("sandbox", "sandbox", "abcDEF123_-x", now - 370 * DAY)
    said = await w.message(chat, "member", f"Tôi là {NAME}", now - 370 * DAY)
    reply = await w.message(chat, "bot", "Chào chị", now - 370 * DAY, kind="chitchat")
    await w.question(chat, said, reply, by="bot")

    conversations = [old, stickers, waiting, recent, chat]
    return Seeded(
        old=old.id,
        stickers=stickers.id,
        open_question=waiting.id,
        recent=recent.id,
        sandbox=chat.id,
        user_ids={c.id: c.user_id for c in conversations},
    )


async def ledger_rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Every column of every question, in id order."""
    rows = await session.execute(select(Question.__table__).order_by(Question.id))
    return [tuple(row) for row in rows]


async def report_figures(database_url: str, now: dt.datetime) -> list[str]:
    """``make report`` as text and CSV: the months of the seeded data, and the whole range."""
    periods = [period_bounds("month", (now - d * DAY).date()) for d in (500, 420, 400, 370, 10)]
    periods.append((now - 600 * DAY, now + DAY))
    shown = []
    for start, end in periods:
        made = await report(database_url, start, end, now)
        shown += [to_text(made), to_csv(made)]
    return shown

"""Members' data: export, erase, and retention (anonymise or delete idle conversations).

Forgetting a conversation (:func:`do_forget`) keeps the reply ledger whole: ``questions`` rows
are never changed, so the figures of ``make report`` stay the same. What goes:

- ``anonymise``: the text, data and platform ids of every message (the member's and the
  replies to them) are emptied, FAQ drafts made from the conversation (they copy the member's
  question and a reply addressed to them) are deleted, pending turns and sends are stopped, and
  the member's platform user id becomes a random pseudonym (``anon:…``) that cannot be traced
  back;
- ``delete``: the same, and the messages, dispatch jobs and outbox items the ledger does not
  point to are deleted; the conversation row goes too when nothing points to it any more.

Rasa's SQL tracker store (``RASA_TRACKER_DB_URL``) holds the member's words as well: its rows
for the conversation are deleted before the transaction that forgets the conversation commits.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

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
from bot.ops.sql import PENDING
from bot.settings import RETENTION_MODES

PSEUDONYM_PREFIX = "anon:"  # never in a platform user id (digits) or a sandbox session id
ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}

_tracker_events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


class TrackerEvents:
    """Rasa's SQL tracker store: table ``events``, ``sender_id`` = our conversation id."""

    def __init__(self, url: str) -> None:
        """``url``: SQLAlchemy URL of the tracker database (a sync driver is made async)."""
        parsed = make_url(url)
        parsed = parsed.set(drivername=ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
        self._engine = create_async_engine(parsed, hide_parameters=True, pool_pre_ping=True)

    async def read(self, conversation_id: int) -> list[dict[str, Any]]:
        """The conversation's events, oldest first, with ``data`` parsed."""
        query = (
            select(_tracker_events)
            .where(_tracker_events.c.sender_id == str(conversation_id))
            .order_by(_tracker_events.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [{**row, "data": json.loads(row["data"]) if row["data"] else None} for row in rows]

    async def do_delete(self, conversation_id: int) -> int:
        """Delete the conversation's events; how many there were."""
        statement = delete(_tracker_events).where(
            _tracker_events.c.sender_id == str(conversation_id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount

    async def close(self) -> None:
        """Close the connections."""
        await self._engine.dispose()


@dataclass(frozen=True)
class Forgotten:
    """What forgetting one conversation did."""

    conversation_id: int
    mode: str
    messages_emptied: int  # the messages left, emptied
    tracker_events_deleted: int


def pseudonym() -> str:
    """A fresh random stand-in for a member's platform user id."""
    return PSEUDONYM_PREFIX + secrets.token_hex(16)


def idle_since(cutoff: dt.datetime) -> ColumnElement[bool]:
    """Conversations not yet forgotten, with nothing happening since ``cutoff``, none open."""
    return (
        ~Conversation.user_id.startswith(PSEUDONYM_PREFIX, autoescape=True)
        & (Conversation.created_at < cutoff)
        & (Conversation.mode_changed_at < cutoff)
        & or_(
            Conversation.last_member_message_at.is_(None),
            Conversation.last_member_message_at < cutoff,
        )
        & ~exists().where(Message.conversation_id == Conversation.id, Message.created_at >= cutoff)
        & ~exists().where(Question.conversation_id == Conversation.id, Question.status == "open")
    )


async def idle_conversations(
    session: AsyncSession, cutoff: dt.datetime, limit: int | None = None
) -> list[Conversation]:
    """Conversations that retention would forget at ``cutoff``, oldest id first."""
    query = select(Conversation).where(idle_since(cutoff)).order_by(Conversation.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def last_activity(session: AsyncSession, conversation: Conversation) -> dt.datetime:
    """When anything last happened in the conversation."""
    latest = await session.scalar(
        select(func.max(Message.created_at)).where(Message.conversation_id == conversation.id)
    )
    return max(t for t in (latest, conversation.created_at, conversation.mode_changed_at) if t)


async def find_member(
    session: AsyncSession, channel: str, page_id: str, user_id: str
) -> Conversation | None:
    """The member's conversation on this page, if we still hold one."""
    found = await session.execute(
        select(Conversation).filter_by(channel=channel, page_id=page_id, user_id=user_id)
    )
    return found.scalar_one_or_none()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _row(obj: Any, *skip: str) -> dict[str, Any]:
    return {
        column.key: _plain(getattr(obj, column.key))
        for column in obj.__table__.columns
        if column.key not in skip
    }


async def export_member(
    session: AsyncSession, conversation: Conversation, tracker: TrackerEvents | None
) -> dict[str, Any]:
    """Everything held about the member of ``conversation``, ready for JSON."""
    by_conversation = {
        "messages": Message,
        "questions": Question,
        "feedback": FaqFeedback,
        "faq_drafts": FaqDraft,
    }
    exported: dict[str, Any] = {"conversation": _row(conversation, "holder_id", "held_at")}
    for key, model in by_conversation.items():
        rows = await session.execute(
            select(model).where(model.conversation_id == conversation.id).order_by(model.id)
        )
        exported[key] = [_row(obj) for obj in rows.scalars()]
    if tracker is not None:
        exported["rasa_tracker_events"] = await tracker.read(conversation.id)
    return exported


async def _claim(session: AsyncSession, conversation_id: int, cutoff: dt.datetime | None) -> bool:
    """Give the conversation its pseudonym unless it already has one (or is no longer idle).

    The conditional UPDATE is the claim: of several processes forgetting the same conversation,
    one matches the row; the others find it done and skip it.
    """
    condition = (
        idle_since(cutoff)
        if cutoff is not None
        else ~Conversation.user_id.startswith(PSEUDONYM_PREFIX, autoescape=True)
    )
    claimed = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, condition)
        .values(user_id=pseudonym())
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


async def _update(
    session: AsyncSession, model: Any, conversation_id: int, *where: Any, **values: Any
) -> int:
    """Set ``values`` on the conversation's rows of ``model`` (matching ``where``); how many."""
    result = await session.execute(
        update(model)
        .where(model.conversation_id == conversation_id, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def _empty(session: AsyncSession, conversation_id: int, now: dt.datetime) -> int:
    """Empty what may identify the member or repeat their words; how many messages.

    Error texts go too (a platform's error may quote the user id); turns not yet taken and
    replies not yet sent will not happen, and their leases are void.
    """
    emptied = await _update(
        session, Message, conversation_id, text="", data={}, platform_message_id=None
    )
    await _update(session, DispatchJob, conversation_id, last_error=None)
    await _update(session, OutboxItem, conversation_id, last_error=None, platform_message_id=None)
    void = {"last_error": "erased", "lease_owner": None, "lease_until": None}
    await _update(
        session,
        DispatchJob,
        conversation_id,
        DispatchJob.status == PENDING,
        status="skipped",
        finished_at=now,
        **void,
    )
    await _update(
        session,
        OutboxItem,
        conversation_id,
        OutboxItem.status == PENDING,
        status="failed",
        **void,
    )
    return emptied


def _messages_the_ledger_needs(conversation_id: int) -> Any:
    """Ids of the conversation's messages that questions or feedback point to."""
    return union(
        *(
            select(column).where(model.conversation_id == conversation_id, column.is_not(None))
            for model, column in (
                (Question, Question.first_message_id),
                (Question, Question.last_message_id),
                (Question, Question.answer_message_id),
                (FaqFeedback, FaqFeedback.answer_message_id),
                (FaqFeedback, FaqFeedback.member_message_id),
            )
        )
    )


async def _delete(session: AsyncSession, model: Any, *where: Any) -> None:
    await session.execute(delete(model).where(*where).execution_options(synchronize_session=False))


async def _delete_rows(session: AsyncSession, conversation_id: int) -> None:
    """Delete the rows the ledger does not need, the conversation too if nothing points to it."""
    for model in (DispatchJob, OutboxItem):
        await _delete(session, model, model.conversation_id == conversation_id)
    await _delete(
        session,
        Message,
        Message.conversation_id == conversation_id,
        Message.id.not_in(_messages_the_ledger_needs(conversation_id)),
    )
    referenced = await session.scalar(
        select(
            or_(
                *(
                    exists().where(model.conversation_id == conversation_id)
                    for model in (
                        Message,
                        Question,
                        FaqFeedback,
                        DeadlineWarning,
                        Notification,
                    )
                )
            )
        )
    )
    if not referenced:
        await _delete(session, Conversation, Conversation.id == conversation_id)


async def do_forget(
    session: AsyncSession,
    conversation_id: int,
    *,
    mode: str,
    now: dt.datetime,
    tracker: TrackerEvents | None = None,
    idle_cutoff: dt.datetime | None = None,
) -> Forgotten | None:
    """Anonymise or delete one conversation's member data, keeping the ledger.

    With ``idle_cutoff`` (retention), only if it is still idle since then. None if there was
    nothing to do: the conversation is gone, already forgotten, or active again. Rasa's tracker
    rows are deleted last, so a failure there rolls the whole change back for a later retry.
    """
    if mode not in RETENTION_MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if not await _claim(session, conversation_id, idle_cutoff):
        return None
    await _delete(session, FaqDraft, FaqDraft.conversation_id == conversation_id)
    if mode == "delete":
        await _delete_rows(session, conversation_id)
    emptied = await _empty(session, conversation_id, now)
    events = await tracker.do_delete(conversation_id) if tracker is not None else 0
    return Forgotten(conversation_id, mode, emptied, events)

"""Recording members' messages: the first thing a webhook does, in one transaction."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, Update, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from bot.channels.base import InboundMessage, only_stickers
from bot.db.models import Conversation, DispatchJob, Message
from bot.ops import ledger
from bot.ops.sql import insert_ignore

ReplyTarget = Callable[[str, str], dt.timedelta]  # (channel, page id) -> time to answer


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording one inbound message."""

    conversation_id: int
    message_id: int | None  # None when the platform message id was already stored
    duplicate: bool


async def conversation_id(
    session: AsyncSession, channel: str, page_id: str, user_id: str, now: dt.datetime
) -> int:
    """The id of the member's conversation on this page, created on first contact (race-safe).

    Looked up first: a member who wrote before (most messages) costs one query, not two.
    """
    key = {"b_channel": channel, "b_page": page_id, "b_user": user_id}
    found = (await session.execute(_conversation_by_key(), key)).scalar_one_or_none()
    if found is not None:
        return found
    values = {"mode": "bot", "mode_changed_at": now, "created_at": now}
    values.update(channel=channel, page_id=page_id, user_id=user_id)
    await insert_ignore(session, Conversation, values, ["channel", "page_id", "user_id"])
    return (await session.execute(_conversation_by_key(), key)).scalar_one()


async def get_or_create_conversation(
    session: AsyncSession, channel: str, page_id: str, user_id: str, now: dt.datetime
) -> Conversation:
    """The member's conversation on this page, created on first contact."""
    found = await session.get(
        Conversation, await conversation_id(session, channel, page_id, user_id, now)
    )
    assert found is not None
    return found


async def do_record_inbound(
    session: AsyncSession, inbound: InboundMessage, *, now: dt.datetime, reply_target: dt.timedelta
) -> Recorded:
    """Store the message, queue it for the dispatcher and open or extend the member's question.

    A message whose (channel, platform message id) is already stored changes nothing. Core
    statements, no ORM objects: this runs for every member message (5 statements in all for
    a member who writes again).
    """
    conversation = await conversation_id(
        session, inbound.channel, inbound.page_id, inbound.user_id, now
    )
    data: dict[str, object] = {}
    if inbound.payload:
        data["payload"] = inbound.payload
    if inbound.attachments:
        data["attachments"] = list(inbound.attachments)
    postgres = session.get_bind().dialect.name == "postgresql"
    message_id = (
        await session.execute(
            _insert_member_message(postgres),
            {
                "conversation_id": conversation,
                "channel": inbound.channel,
                "direction": "in",
                "author": "member",
                "kind": "text",
                "text": inbound.text,
                "data": data,
                "platform_message_id": inbound.platform_message_id,
                "platform_ts": inbound.platform_ts,
                "created_at": now,
            },
        )
    ).scalar_one_or_none()
    if message_id is None:
        return Recorded(conversation, None, duplicate=True)
    await session.execute(
        _note_member_wrote(),
        {"b_conversation": conversation, "b_at": inbound.platform_ts or now},
    )
    await session.execute(
        _INSERT_JOB,
        {
            "conversation_id": conversation,
            "message_id": message_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    if not is_sticker_only(inbound):
        await ledger.do_note_member_message(
            session, inbound, conversation, message_id, now, reply_target
        )
    return Recorded(conversation, message_id, duplicate=False)


# The statements of every member message, built once (building them per call cost more CPU
# than running them). Parameters of UPDATEs are named unlike any column: one named after a
# column would be SET as well.
_INSERT_JOB = insert(DispatchJob.__table__)


@functools.cache
def _conversation_by_key() -> Select[tuple[int]]:
    return select(Conversation.id).where(
        Conversation.channel == bindparam("b_channel"),
        Conversation.page_id == bindparam("b_page"),
        Conversation.user_id == bindparam("b_user"),
    )


@functools.cache
def _insert_member_message(postgres: bool) -> ReturningInsert[tuple[int]]:
    """Insert a member's message unless its platform message id is stored: its id, or none."""
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    return (
        dialect_insert(Message.__table__)
        .on_conflict_do_nothing(index_elements=["channel", "platform_message_id"])
        .returning(Message.__table__.c.id)
    )


@functools.cache
def _note_member_wrote() -> Update:
    table = Conversation.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("b_conversation"))
        .values(last_member_message_at=bindparam("b_at"))
    )


def is_sticker_only(inbound: InboundMessage) -> bool:
    """A sticker (a thumbs-up, a smile) with no words asks nothing: no question, no reply."""
    return not inbound.text.strip() and not inbound.payload and only_stickers(inbound.attachments)

"""The outbox worker: sends stored replies through their channel, with retries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping

from bot.channels.base import ChannelSender, OutboundMessage, SendError
from bot.db.models import Conversation, Message, OutboxItem
from bot.db.session import SessionFactory
from bot.lib.backoff import retry_time
from bot.ops import outbox
from bot.ops.sql import claim_head_of_line

log = logging.getLogger(__name__)


class OutboxWorker:
    """One worker; several may run, in one or many processes."""

    def __init__(
        self,
        sessions: SessionFactory,
        senders: Mapping[str, ChannelSender],
        *,
        worker_id: str,
        lease: dt.timedelta,
        clock: Callable[[], dt.datetime],
        retry_for: dt.timedelta = dt.timedelta(hours=24),
    ) -> None:
        """``retry_for``: how long after a reply was stored a failing send is still retried."""
        self._sessions = sessions
        self._senders = senders
        self._worker = worker_id
        self._lease = lease
        self._now = clock
        self._retry_for = retry_for

    async def step(self) -> bool:
        """Send one due reply if there is one; True if there was one."""
        async with self._sessions() as session, session.begin():
            item_id = await claim_head_of_line(
                session, OutboxItem, self._worker, self._now(), self._lease
            )
        if item_id is None:
            return False
        async with self._sessions() as session:
            item = await session.get(OutboxItem, item_id)
            message = await session.get(Message, item.message_id) if item else None
            conversation = await session.get(Conversation, item.conversation_id) if item else None
        if item is None or message is None or conversation is None:
            return True
        sender = self._senders.get(conversation.channel)
        try:
            if sender is None:
                raise SendError(
                    f"Kênh {conversation.channel} chưa được cấu hình trên máy chủ.",
                    retryable=False,
                )
            platform_id = await sender.send(
                OutboundMessage(
                    outbox_id=item.id,
                    message_id=message.id,
                    conversation_id=conversation.id,
                    page_id=conversation.page_id,
                    user_id=conversation.user_id,
                    author=message.author,
                    text=message.text,
                    last_member_message_at=conversation.last_member_message_at,
                    quick_replies=tuple((message.data or {}).get("quick_replies") or ()),
                )
            )
        except SendError as exc:
            await self._failed(item, exc)
            return True
        async with self._sessions() as session, session.begin():
            await outbox.do_mark_sent(session, item, self._worker, platform_id, self._now())
        return True

    async def _failed(self, item: OutboxItem, exc: SendError) -> None:
        retry_at = None
        if exc.retryable:
            retry_at = retry_time(
                item.attempts + 1,
                self._now(),
                give_up_at=item.created_at + self._retry_for,
                retry_after=exc.retry_after,
            )
        log.warning(
            "outbox %s: send failed (%s), %s",
            item.id,
            exc.reason,
            "retrying" if retry_at else "giving up",
        )
        async with self._sessions() as session, session.begin():
            await outbox.do_mark_send_failed(
                session, item, self._worker, exc.reason, retry_at, self._now()
            )

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
from bot.ops.sql import claim_with_context
from bot.recent_sends import RecentSends
from bot.workers.loop import Wakeup

log = logging.getLogger(__name__)


class ReplySender:
    """Sends leased outbox items through their channel and records each outcome.

    The outbox worker sends through it, and so does the dispatcher for its own turns' replies.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        senders: Mapping[str, ChannelSender],
        *,
        clock: Callable[[], dt.datetime],
        retry_for: dt.timedelta = dt.timedelta(hours=24),
        recent: RecentSends | None = None,
    ) -> None:
        """``retry_for``: how long after a reply was stored a failing send is still retried.

        ``recent``: told of each send once it is recorded (the webhook then skips its echo).
        """
        self._sessions = sessions
        self._senders = senders
        self._now = clock
        self._retry_for = retry_for
        self._recent = recent

    async def send(
        self, worker: str, item: OutboxItem, message: Message, conversation: Conversation
    ) -> bool:
        """Send one item leased by ``worker`` and record the outcome; True if sent and recorded.

        A failed send is retried later by the outbox worker, or fails for good.
        """
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
            await self._failed(worker, item, exc)
            return False
        async with self._sessions() as session, session.begin():
            recorded = await outbox.do_mark_sent(session, item, worker, platform_id, self._now())
        if recorded and self._recent is not None:
            self._recent.add(item.id, conversation.channel, platform_id)
        return recorded

    async def _failed(self, worker: str, item: OutboxItem, exc: SendError) -> None:
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
                session, item, worker, exc.reason, retry_at, self._now()
            )


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
        wakeup: Wakeup | None = None,
        recent: RecentSends | None = None,
    ) -> None:
        """An outbox worker named ``worker_id`` in its leases.

        ``retry_for``, ``recent``: as for ``ReplySender``. ``wakeup``: the outbox workers' own,
        passed on after each claim so that a backlog spreads over all of them.
        """
        self._sessions = sessions
        self._replies = ReplySender(
            sessions, senders, clock=clock, retry_for=retry_for, recent=recent
        )
        self._worker = worker_id
        self._lease = lease
        self._now = clock
        self._wakeup = wakeup or Wakeup()

    async def step(self) -> bool:
        """Send one due reply if there is one; True if there was one."""
        async with self._sessions() as session, session.begin():
            claimed = await claim_with_context(
                session, OutboxItem, self._worker, self._now(), self._lease
            )
        if claimed is None:
            return False
        self._wakeup.notify()
        await self._replies.send(self._worker, *claimed)
        return True

"""The dispatcher: member messages to Rasa, in order per conversation, replies to the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.channels.base import ChannelSender, only_stickers
from bot.db.models import Conversation, DispatchJob, Message
from bot.db.session import SessionFactory
from bot.lib.backoff import backoff
from bot.lib.rasa_replies import parse_turn
from bot.ops import dispatch, outbox
from bot.ops.dispatch import StoredTurn
from bot.ops.outbox import Reply
from bot.ops.sql import claim_with_context
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.workers.handoff import Claimed, Handoff
from bot.workers.loop import Wakeup
from bot.workers.outbox import ReplySender

log = logging.getLogger(__name__)

ATTACHMENT_TEXT = (
    "Mình đã nhận được tệp bạn gửi nhưng chưa đọc được nội dung. Mình đã chuyển cho cán bộ "
    "công đoàn, cán bộ sẽ trả lời bạn trong vòng 24 giờ."
)
UNREACHABLE_TEXT = (
    "Hệ thống trả lời tự động đang gặp sự cố. Câu hỏi của bạn đã được chuyển tới cán bộ "
    "công đoàn, cán bộ sẽ trả lời bạn trong vòng 24 giờ."
)


class Dispatcher:
    """One worker; several may run, in one or many processes."""

    def __init__(
        self,
        sessions: SessionFactory,
        rasa: RasaClient,
        *,
        worker_id: str,
        lease: dt.timedelta,
        escalate_after: dt.timedelta,
        outbox_wakeup: Wakeup,
        clock: Callable[[], dt.datetime],
        senders: Mapping[str, ChannelSender] | None = None,
        replies: ReplySender | None = None,
        wakeup: Wakeup | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        """A dispatcher named ``worker_id`` in its leases; ``senders`` for typing indicators.

        ``replies``: sends a turn's replies at once, when nothing of the conversation is still
        waiting to be sent; without it, or when something is, the outbox worker sends them.
        ``wakeup``: the dispatchers' own, passed on after each claim so that a backlog spreads
        over all of them. ``handoff``: where, idle, it waits for jobs the expander claims for
        it (``bot.workers.handoff``); run it with itself as the waiter (``wait``).
        """
        self._sessions = sessions
        self._rasa = rasa
        self._worker = worker_id
        self._lease = lease
        self._escalate_after = escalate_after
        self._outbox_wakeup = outbox_wakeup
        self._now = clock
        self._senders = senders or {}
        self._replies = replies
        self._wakeup = wakeup or Wakeup()
        self._handoff = handoff
        self._handed: Claimed | None = None

    async def wait(self, seconds: float) -> None:
        """Idle: wait for a job handed over, a wake-up, or ``seconds``."""
        if self._handoff is None:
            await self._wakeup.wait(seconds)
        else:
            self._handed = await self._handoff.wait(self._worker, self._wakeup, seconds)

    async def step(self) -> bool:
        """Handle the job handed over, or one claimed if one is due; True if there was one."""
        claimed, self._handed = self._handed, None
        if claimed is None:
            async with self._sessions() as session, session.begin():
                claimed = await claim_with_context(
                    session, DispatchJob, self._worker, self._now(), self._lease
                )
        if claimed is None:
            return False
        self._wakeup.notify()
        job, message, conversation = claimed
        if conversation.mode != "bot":
            async with self._sessions() as session, session.begin():
                await dispatch.do_skip_job(
                    session,
                    job,
                    self._worker,
                    f"conversation is in {conversation.mode} mode",
                    self._now(),
                )
            return True
        await self._turn(job, message, conversation)
        return True

    async def _turn(self, job: DispatchJob, message: Message, conversation: Conversation) -> None:
        text = (message.data or {}).get("payload") or message.text
        if not text.strip():
            await self._without_words(job, message)
            return
        metadata = {
            "channel": conversation.channel,
            "page_id": conversation.page_id,
            "message_id": message.id,
        }
        result, error = await self._ask_rasa(conversation, text, metadata)
        if error is not None:
            await self._rasa_failed(job, conversation, error)
            return
        turn = parse_turn(result, message.id)
        if not turn.replies:
            # Every turn of ours says something; silence means the action server failed.
            await self._rasa_failed(job, conversation, "Rasa returned no reply")
            return
        if not await self._complete(
            job, turn.replies, turn.handoff_reason is not None, turn.feedback, turn.topic
        ):
            log.warning("dispatch job %s: lease lost, turn not recorded", job.id)

    async def _ask_rasa(
        self, conversation: Conversation, text: str, metadata: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Rasa's answer, or the error; the typing indicator goes out meanwhile.

        Typing and the turn run side by side (the member waits for the slower of the two, not
        for both); typing is finished before anything is stored, so it never follows a reply.
        """
        sender = self._senders.get(conversation.channel)
        typing = (
            asyncio.ensure_future(sender.typing(conversation.page_id, conversation.user_id))
            if sender is not None
            else None
        )
        result: list[dict[str, Any]] = []
        error = None
        try:
            result = await self._rasa.turn(str(conversation.id), text, metadata)
        except RasaUnavailable as exc:
            error = str(exc)
        except BaseException:
            if typing is not None:
                typing.cancel()
            raise
        if typing is not None:
            await typing
        return result, error

    async def _without_words(self, job: DispatchJob, message: Message) -> None:
        """A sticker gets no reply; a picture, file or location goes to staff."""
        stickers_only = only_stickers((message.data or {}).get("attachments") or [])
        replies = []
        if not stickers_only:
            data = {"in_reply_to": message.id, "handoff": {"reason": "attachment"}}
            replies = [Reply("system", "holding", ATTACHMENT_TEXT, data=data)]
        await self._complete(job, replies, not stickers_only)

    async def _rasa_failed(self, job: DispatchJob, conversation: Conversation, error: str) -> None:
        now = self._now()
        if now - job.created_at < self._escalate_after:
            log.warning("dispatch job %s: Rasa unavailable (%s), retrying", job.id, error)
            async with self._sessions() as session, session.begin():
                await dispatch.do_retry_job(
                    session, job, self._worker, error, now + backoff(job.attempts + 1)
                )
            return
        log.error("dispatch job %s: Rasa unavailable for too long, escalating", job.id)
        holding = Reply(
            "system", "holding", UNREACHABLE_TEXT, data={"in_reply_to": job.message_id}
        )
        await self._complete(job, [holding], True)

    async def _complete(
        self,
        job: DispatchJob,
        replies: Sequence[Reply],
        escalate: bool,
        feedback: str | None = None,
        topic: str | None = None,
    ) -> bool:
        """Record the turn and have its replies sent; False if the job's lease was lost."""
        now = self._now()
        async with self._sessions() as session, session.begin():
            stored = await dispatch.do_complete_turn(
                session,
                job,
                self._worker,
                replies,
                escalate,
                now,
                feedback,
                topic,
                lease_until=None if self._replies is None else now + self._lease,
            )
        if stored is None:
            return False
        if self._replies is not None and stored.leased:
            await self._send(self._replies, stored)
        elif stored.replies:
            self._outbox_wakeup.notify()
        return True

    async def _send(self, replies: ReplySender, turn: StoredTurn) -> None:
        """Send the turn's replies, in order, while at least half their lease is left.

        After a failed send the rest wait for the outbox worker, behind the failed one. It is
        woken for them, and for replies that another turn stored behind these meanwhile.
        """
        unsent = list(turn.replies)
        while unsent and unsent[0].item.lease_until - self._now() >= self._lease / 2:
            queued = unsent.pop(0)
            sent = await replies.send(self._worker, queued.item, queued.message, turn.conversation)
            if not sent:
                break
        if unsent:
            async with self._sessions() as session, session.begin():
                await outbox.do_release(session, [q.item.id for q in unsent], self._worker)
            self._outbox_wakeup.notify()
            return
        async with self._sessions() as session:
            waiting = await outbox.has_waiting(session, turn.conversation.id)
        if waiting:
            self._outbox_wakeup.notify()

"""The dispatcher: member messages to Rasa, in order per conversation, replies to the outbox."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping

from bot.channels.base import ChannelSender, only_stickers
from bot.db.models import Conversation, DispatchJob, Message
from bot.db.session import SessionFactory
from bot.lib.backoff import backoff
from bot.lib.rasa_replies import parse_turn
from bot.ops import dispatch
from bot.ops.outbox import Reply
from bot.ops.sql import claim_head_of_line
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.workers.loop import Wakeup

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
    ) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._worker = worker_id
        self._lease = lease
        self._escalate_after = escalate_after
        self._outbox_wakeup = outbox_wakeup
        self._now = clock
        self._senders = senders or {}

    async def step(self) -> bool:
        """Handle one job if one is due; True if there was one."""
        async with self._sessions() as session, session.begin():
            job_id = await claim_head_of_line(
                session, DispatchJob, self._worker, self._now(), self._lease
            )
        if job_id is None:
            return False
        async with self._sessions() as session:
            job = await session.get(DispatchJob, job_id)
            message = await session.get(Message, job.message_id) if job else None
            conversation = await session.get(Conversation, job.conversation_id) if job else None
        if job is None or message is None or conversation is None:
            return True
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
        sender = self._senders.get(conversation.channel)
        if sender is not None:
            await sender.typing(conversation.page_id, conversation.user_id)
        try:
            result = await self._rasa.turn(str(conversation.id), text, metadata)
        except RasaUnavailable as exc:
            await self._rasa_failed(job, conversation, str(exc))
            return
        turn = parse_turn(result, message.id)
        if not turn.replies:
            # Every turn of ours says something; silence means the action server failed.
            await self._rasa_failed(job, conversation, "Rasa returned no reply")
            return
        async with self._sessions() as session, session.begin():
            stored = await dispatch.do_complete_turn(
                session,
                job,
                self._worker,
                turn.replies,
                turn.handoff_reason is not None,
                self._now(),
                turn.feedback,
                turn.topic,
            )
        if stored:
            self._outbox_wakeup.notify()
        else:
            log.warning("dispatch job %s: lease lost, turn not recorded", job.id)

    async def _without_words(self, job: DispatchJob, message: Message) -> None:
        """A sticker gets no reply; a picture, file or location goes to staff."""
        stickers_only = only_stickers((message.data or {}).get("attachments") or [])
        replies = []
        if not stickers_only:
            data = {"in_reply_to": message.id, "handoff": {"reason": "attachment"}}
            replies = [Reply("system", "holding", ATTACHMENT_TEXT, data=data)]
        async with self._sessions() as session, session.begin():
            await dispatch.do_complete_turn(
                session, job, self._worker, replies, not stickers_only, self._now()
            )
        if replies:
            self._outbox_wakeup.notify()

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
        async with self._sessions() as session, session.begin():
            await dispatch.do_complete_turn(session, job, self._worker, [holding], True, now)
        self._outbox_wakeup.notify()

"""The dispatcher: member messages to Rasa, in order per conversation, replies to the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
            loaded = await _load(session, job_id) if job_id is not None else None
        if job_id is None:
            return False
        if loaded is None:
            return True
        job, message, conversation = loaded
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


async def _load(
    session: AsyncSession, job_id: int
) -> tuple[DispatchJob, Message, Conversation] | None:
    """A claimed job with its message and conversation, in one query."""
    row = (
        await session.execute(
            select(DispatchJob, Message, Conversation)
            .join(Message, Message.id == DispatchJob.message_id)
            .join(Conversation, Conversation.id == DispatchJob.conversation_id)
            .where(DispatchJob.id == job_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])

"""The deadline sweeper and the notifier that delivers its warnings by e-mail and webhook."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from bot.db.models import Conversation, DeadlineWarning, Notification, Question
from bot.db.session import SessionFactory
from bot.lib.backoff import retry_time
from bot.notify.message import Alert
from bot.notify.send import NotifyError
from bot.ops import notifications
from bot.ops.deadlines import WarningPolicy, do_sweep
from bot.ops.sql import claim_head_of_line
from bot.workers.loop import Wakeup

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


class Notifier(Protocol):
    """Delivers one alert or raises NotifyError."""

    async def deliver(self, alert: Alert) -> None: ...


class DeadlineSweeper:
    """Raises due warnings; several may run in several processes."""

    def __init__(
        self,
        sessions: SessionFactory,
        policy: WarningPolicy,
        notify_wakeup: Wakeup,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._notify_wakeup = notify_wakeup
        self._now = clock

    async def step(self) -> bool:
        """One sweep; False (it is periodic, not a queue)."""
        async with self._sessions() as session, session.begin():
            raised = await do_sweep(session, self._now(), self._policy)
        if raised:
            log.info("deadline sweep: %d warnings raised", len(raised))
            self._notify_wakeup.notify()
        return False


class NotificationWorker:
    """Delivers pending notifications through their target, with retries."""

    def __init__(
        self,
        sessions: SessionFactory,
        notifiers: Mapping[str, Notifier],
        *,
        worker_id: str,
        lease: dt.timedelta,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._notifiers = notifiers
        self._worker = worker_id
        self._lease = lease
        self._now = clock

    async def step(self) -> bool:
        """Deliver one due notification if there is one; True if there was one."""
        async with self._sessions() as session, session.begin():
            item_id = await claim_head_of_line(
                session, Notification, self._worker, self._now(), self._lease
            )
        if item_id is None:
            return False
        async with self._sessions() as session:
            item = await session.get(Notification, item_id)
            warning = await session.get(DeadlineWarning, item.warning_id) if item else None
            question = await session.get(Question, warning.question_id) if warning else None
            conversation = (
                await session.get(Conversation, warning.conversation_id) if warning else None
            )
        if item is None or warning is None or question is None or conversation is None:
            return True
        alert = Alert(
            kind=warning.kind,
            question_id=question.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            page_id=conversation.page_id,
            deadline=warning.deadline,
            raised_at=warning.created_at,
        )
        notifier = self._notifiers.get(item.target)
        try:
            if notifier is None:
                raise NotifyError(f"no notifier for {item.target}")
            await notifier.deliver(alert)
        except NotifyError as exc:
            retry_at = retry_time(item.attempts + 1, self._now(), max_attempts=MAX_ATTEMPTS)
            log.warning("notification %s: %s", item.id, exc)
            async with self._sessions() as session, session.begin():
                await notifications.do_mark_notify_failed(
                    session, item, self._worker, str(exc), retry_at
                )
            return True
        async with self._sessions() as session, session.begin():
            await notifications.do_mark_notified(session, item, self._worker, self._now())
        return True

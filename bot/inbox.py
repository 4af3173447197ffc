"""Recording webhook events for the web handlers: one transaction, then wake the workers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.channels.base import InboundMessage, MemberEvent, PageEcho, WebhookEvent
from bot.channels.facebook.send import outbox_id_from
from bot.db.session import SessionFactory
from bot.ops import echoes
from bot.ops.inbox import Recorded, do_record_inbound
from bot.workers.loop import Wakeup

log = logging.getLogger(__name__)

ReplyTarget = Callable[[str, str], dt.timedelta]  # (channel, page id) -> time to answer


@dataclass(frozen=True)
class Tally:
    """What one webhook delivery changed."""

    messages: int = 0
    duplicates: int = 0
    staff_replies: int = 0
    confirmed_sends: int = 0
    member_events: int = 0
    ignored: int = 0


class Inbox:
    """What webhook handlers call to store members' messages and page events durably."""

    def __init__(
        self,
        sessions: SessionFactory,
        wakeup: Wakeup,
        reply_target: ReplyTarget,
        clock: Callable[[], dt.datetime],
        our_app_ids: frozenset[str] = frozenset(),
    ) -> None:
        self._sessions = sessions
        self._wakeup = wakeup
        self._reply_target = reply_target
        self._now = clock
        self._our_app_ids = our_app_ids

    async def record(self, inbound: InboundMessage) -> Recorded:
        """Store one message (a no-op for a platform retry) and wake the dispatcher."""
        async with self._sessions() as session, session.begin():
            recorded = await do_record_inbound(
                session,
                inbound,
                now=self._now(),
                reply_target=self._reply_target(inbound.channel, inbound.page_id),
            )
        if not recorded.duplicate:
            self._wakeup.notify()
        return recorded

    async def record_events(self, events: Sequence[WebhookEvent]) -> Tally:
        """Store every event of one delivery in one transaction (all or nothing)."""
        counts = dict.fromkeys(Tally.__dataclass_fields__, 0)
        now = self._now()
        async with self._sessions() as session, session.begin():
            for event in events:
                if isinstance(event, InboundMessage):
                    recorded = await do_record_inbound(
                        session,
                        event,
                        now=now,
                        reply_target=self._reply_target(event.channel, event.page_id),
                    )
                    counts["duplicates" if recorded.duplicate else "messages"] += 1
                elif isinstance(event, PageEcho):
                    outbox_id = outbox_id_from(event.metadata)
                    if outbox_id is not None:
                        confirmed = await echoes.do_confirm_sent(
                            session, outbox_id, event.platform_message_id, now
                        )
                        counts["confirmed_sends"] += int(confirmed)
                    elif event.app_id in self._our_app_ids or await echoes.is_our_send(
                        session, event
                    ):
                        counts["ignored"] += 1
                    elif await echoes.do_record_staff_echo(session, event, now):
                        counts["staff_replies"] += 1
                elif isinstance(event, MemberEvent):
                    counts["member_events"] += int(
                        await echoes.do_record_member_event(session, event, now)
                    )
                else:
                    counts["ignored"] += 1
        if counts["messages"]:
            self._wakeup.notify()
        return Tally(**counts)

"""Recording inbound messages for the web handlers: one transaction, then wake the dispatcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.channels.base import InboundMessage
from bot.db.session import SessionFactory
from bot.ops.inbox import Recorded, do_record_inbound
from bot.workers.loop import Wakeup


class Inbox:
    """What webhook handlers call to store a member's message durably."""

    def __init__(
        self,
        sessions: SessionFactory,
        wakeup: Wakeup,
        reply_target: dt.timedelta,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._wakeup = wakeup
        self._reply_target = reply_target
        self._now = clock

    async def record(self, inbound: InboundMessage) -> Recorded:
        """Store the message (a no-op for a platform retry) and wake the dispatcher."""
        async with self._sessions() as session, session.begin():
            recorded = await do_record_inbound(
                session, inbound, now=self._now(), reply_target=self._reply_target
            )
        if not recorded.duplicate:
            self._wakeup.notify()
        return recorded

"""What webhook handlers call to store what arrives: one delivery at a time, durably, quickly."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from bot.channels.base import InboundMessage
from bot.db.group_commit import GroupCommit
from bot.db.session import SessionFactory
from bot.ops.inbox import Recorded, ReplyTarget, do_record_inbound
from bot.workers.loop import Wakeup

RowOf = Callable[[str, bytes, dt.datetime], dict[str, Any]]  # (channel, body, now) -> row

RECENT_SECONDS = 0.2  # a delivery stored this recently means webhooks are arriving


class Inbox:
    """Stores webhook deliveries as received (expanded later) and sandbox messages at once."""

    def __init__(
        self,
        sessions: SessionFactory,
        received: GroupCommit,
        row_of: RowOf,
        *,
        expand_wakeup: Wakeup,
        dispatch_wakeup: Wakeup,
        reply_target: ReplyTarget,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._received = received
        self._row_of = row_of
        self._last_received = -RECENT_SECONDS
        self._storing = 0  # deliveries waiting for their commit (their acknowledgement)
        self._settled = asyncio.Event()
        self._settled.set()
        self._expand_wakeup = expand_wakeup
        self._dispatch_wakeup = dispatch_wakeup
        self._reply_target = reply_target
        self._now = clock

    async def receive(self, channel: str, body: bytes) -> None:
        """Store a checked webhook body as it arrived; returns once it is committed.

        Deliveries arriving together share one commit (``GroupCommit``);
        ``bot.workers.deliveries`` expands them into messages and events right after.
        """
        self._storing += 1
        self._settled.clear()
        try:
            await self._received.add(self._row_of(channel, body, self._now()))
        finally:
            self._storing -= 1
            self._last_received = time.monotonic()
            if not self._storing:
                self._settled.set()
        self._expand_wakeup.notify()

    async def settle(self, within: float) -> bool:
        """Wait (at most ``within`` seconds) until no delivery waits for its commit.

        Returns whether webhooks are arriving: one still waits, or one was stored in the last
        ``RECENT_SECONDS``.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._settled.wait()
        return bool(self._storing) or time.monotonic() - self._last_received < RECENT_SECONDS

    async def record(self, inbound: InboundMessage) -> Recorded:
        """Store one message at once (a no-op for a retry) and wake the dispatcher."""
        async with self._sessions() as session, session.begin():
            recorded = await do_record_inbound(
                session,
                inbound,
                now=self._now(),
                reply_target=self._reply_target(inbound.channel, inbound.page_id),
            )
        if not recorded.duplicate:
            self._dispatch_wakeup.notify()
        return recorded

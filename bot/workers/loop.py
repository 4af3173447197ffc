"""A polling loop that also wakes up at once when new work is committed in this process."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.db.session import is_unavailable

log = logging.getLogger(__name__)


class Waiter(Protocol):
    """What an idle worker waits on: a ``Wakeup``, or a worker with a way of its own."""

    async def wait(self, seconds: float) -> None: ...


class Wakeup:
    """Wakes one waiting worker per ``notify``; cheap to call after each commit.

    A worker that finds work calls ``notify`` again (passes the baton), so a backlog spreads
    over all the workers while a single new item wakes only one of them. A ``notify`` that
    finds nobody waiting is kept for the next worker that waits, so none is lost.
    """

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._kept = False

    def notify(self) -> None:
        """New work is available: wake one waiting worker, or the next one to wait."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._kept = True

    async def wait(self, seconds: float) -> None:
        """Wait for new work or until ``seconds`` have passed."""
        if self._kept:
            self._kept = False
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)


async def run_forever(
    name: str, step: Callable[[], Awaitable[bool]], wakeup: Waiter, poll_seconds: float
) -> None:
    """Call ``step`` until it reports no work, then wait; errors are logged, never fatal."""
    while True:
        try:
            worked = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("%s: database unavailable (%s)", name, type(exc).__name__)
            else:
                log.exception("%s: step failed", name)
            worked = False
            await asyncio.sleep(poll_seconds)
        if not worked:
            await wakeup.wait(poll_seconds)

"""A polling loop that also wakes up at once when new work is committed in this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.db.session import is_unavailable

log = logging.getLogger(__name__)


class Wakeup:
    """Wakes every waiting worker; cheap to call after each commit."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """New work is available."""
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Wait for new work or until ``seconds`` have passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()


async def run_forever(
    name: str, step: Callable[[], Awaitable[bool]], wakeup: Wakeup, poll_seconds: float
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

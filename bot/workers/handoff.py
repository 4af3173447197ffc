"""A new dispatch job handed straight to an idle dispatcher of this process.

The expander claims the job for an idle dispatcher inside the transaction that created it,
with the very claim a dispatcher makes (so the order per conversation and the leases hold),
and hands it over once that transaction has committed. The turn then starts without a claim
transaction of its own and without a wake-up: Rasa was asked 2 ms sooner on SQLite and 5 ms
sooner on PostgreSQL in an A/B run (``docs/benchmarks.md``, section 11). A dispatcher that
is handed nothing claims for itself, as before.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.db.models import Conversation, DispatchJob, Message
from bot.workers.loop import Waiter

Claimed = tuple[DispatchJob, Message, Conversation]


class Handoff:
    """The idle dispatchers of one process, and the jobs claimed for them."""

    def __init__(self, lease: dt.timedelta) -> None:
        """``lease``: the dispatchers' lease, which a claim made for them takes."""
        self.lease = lease
        self._idle: dict[str, asyncio.Future[Claimed | None]] = {}
        self._reserved: dict[str, asyncio.Future[Claimed | None]] = {}

    async def wait(self, worker: str, wakeup: Waiter, seconds: float) -> Claimed | None:
        """Wait, idle, as ``worker``: a job claimed for it, or None once woken or timed out.

        Once reserved (``reserve``) the worker waits for what the reserving transaction gives
        it, even if woken meanwhile, so a job claimed for it is never left behind.
        """
        handed: asyncio.Future[Claimed | None] = asyncio.get_running_loop().create_future()
        self._idle[worker] = handed
        woken = asyncio.ensure_future(wakeup.wait(seconds))
        try:
            await asyncio.wait((handed, woken), return_when=asyncio.FIRST_COMPLETED)
            if self._idle.get(worker) is handed:  # not reserved: nothing will be handed
                del self._idle[worker]
                return None
            return await handed
        finally:
            # A notify that woke this worker as it was handed a job is dropped here; the
            # dispatcher passes one on as it starts any job (``Dispatcher.step``).
            woken.cancel()
            if self._idle.get(worker) is handed:
                del self._idle[worker]
            handed.cancel()  # stopped while reserved: ``give`` must know nobody takes it

    def reserve(self) -> str | None:
        """An idle worker, now bound to wait for ``give``; None if none is idle."""
        while self._idle:
            worker, handed = self._idle.popitem()
            if not handed.done():
                self._reserved[worker] = handed
                return worker
        return None

    def give(self, worker: str, claimed: Claimed | None) -> bool:
        """Hand a reserved worker the job claimed for it (committed), or None to let it go.

        False if the worker stopped meanwhile (the process is stopping): the caller then
        releases the job's lease.
        """
        handed = self._reserved.pop(worker)
        if handed.done():
            return False
        handed.set_result(claimed)
        return True

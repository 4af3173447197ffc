"""A new dispatch job handed straight to an idle dispatcher of this process.

The expander claims the job for an idle dispatcher inside the transaction that created it,
with the very claim a dispatcher makes (so the order per conversation and the leases hold),
and hands it over at once, with the promise of that transaction's outcome (``Handed``). The
dispatcher asks Rasa while the expander commits, and waits for the commit before it writes
anything: a turn whose claim was rolled back is dropped, and the job (with its message) is
expanded again from the stored delivery and claimed afresh. The turn starts without a claim
transaction of its own, a wake-up or a wait for the expander's commit (``docs/benchmarks.md``,
sections 11 and 13). A dispatcher that is handed nothing claims for itself, as before.

The one thing the early start gives up: if that commit fails after Rasa was asked, Rasa is
asked again when the job is claimed afresh, so Rasa's tracker holds the member's message
twice; the member still gets one reply, as after a crash in the middle of a turn.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from bot.db.models import Conversation, DispatchJob, Message
from bot.workers.loop import Waiter

Claimed = tuple[DispatchJob, Message, Conversation]


@dataclass(frozen=True)
class Handed:
    """A job claimed for a dispatcher, and the claiming transaction's outcome to come."""

    claimed: Claimed
    committed: asyncio.Future[bool] | None = None  # True, False if rolled back; None: was

    async def holds(self) -> bool:
        """Wait for the claiming transaction: True if it committed."""
        return self.committed is None or await asyncio.shield(self.committed)


class Handoff:
    """The idle dispatchers of one process, and the jobs claimed for them."""

    def __init__(self, lease: dt.timedelta) -> None:
        """``lease``: the dispatchers' lease, which a claim made for them takes."""
        self.lease = lease
        self._idle: dict[str, asyncio.Future[Handed | None]] = {}
        self._reserved: dict[str, asyncio.Future[Handed | None]] = {}

    async def wait(self, worker: str, wakeup: Waiter, seconds: float) -> Handed | None:
        """Wait, idle, as ``worker``: a job claimed for it, or None once woken or timed out.

        Once reserved (``reserve``) the worker waits for what the reserving transaction gives
        it, even if woken meanwhile, so a job claimed for it is never left behind.
        """
        handed: asyncio.Future[Handed | None] = asyncio.get_running_loop().create_future()
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

    def give(self, worker: str, handed: Handed | None) -> bool:
        """Hand a reserved worker the job claimed for it, or None to let it go.

        False if the worker stopped meanwhile (the process is stopping): the caller then
        releases the job's lease once the claim is committed.
        """
        waiting = self._reserved.pop(worker)
        if waiting.done():
            return False
        waiting.set_result(handed)
        return True

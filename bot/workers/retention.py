"""The retention sweep: what is older than ``RETENTION_DAYS`` is forgotten.

Conversations idle that long are anonymised or deleted; webhook deliveries received before
then and still not expanded are deleted. It runs in every gateway process (hourly) and from
``make retention``; the claim in ``bot.ops.privacy.do_forget`` lets several run at once
without doing anything twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.db.session import SessionFactory
from bot.ops import deliveries, privacy, staff
from bot.ops.privacy import Forgotten, TrackerEvents
from bot.settings import Settings
from bot.workers.loop import Wakeup, run_forever

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0
BATCH = 100


@dataclass(frozen=True)
class RetentionPolicy:
    """How long idle conversations are kept, and what happens to them then."""

    days: int
    mode: str

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Conversations idle since before this moment are due."""
        return now - dt.timedelta(days=self.days)


class RetentionSweeper:
    """Forgets due conversations in batches, one transaction each."""

    def __init__(
        self,
        sessions: SessionFactory,
        policy: RetentionPolicy,
        tracker: TrackerEvents | None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._tracker = tracker
        self._now = clock
        self.deliveries_dropped = 0  # in all batches so far

    async def forget_batch(self) -> tuple[list[Forgotten], bool]:
        """Forget one batch of due conversations: what was done, and whether more may be due."""
        now = self._now()
        cutoff = self._policy.cutoff(now)
        await self._drop_old_deliveries(now, cutoff)
        async with self._sessions() as session:
            due = [c.id for c in await privacy.idle_conversations(session, cutoff, BATCH)]
        done = []
        for conversation_id in due:
            forgotten = await self._forget(conversation_id, now, cutoff)
            if forgotten is not None:
                done.append(forgotten)
        return done, len(due) == BATCH

    async def step(self) -> bool:
        """One batch, logged by count; True if there may be more."""
        done, more = await self.forget_batch()
        if done:
            log.info(
                "retention: %d conversations %s (%d tracker events deleted)",
                len(done),
                "deleted" if self._policy.mode == "delete" else "anonymised",
                sum(f.tracker_events_deleted for f in done),
            )
        return more

    async def _drop_old_deliveries(self, now: dt.datetime, cutoff: dt.datetime) -> None:
        """Webhook deliveries still not expanded after the retention period go too.

        Looked for without a lock first: every batch of the sweep comes here, and the lock
        holds up expansion (on SQLite every writer).
        """
        async with self._sessions() as session:
            if not await deliveries.any_received_before(session, cutoff):
                return
        async with self._sessions() as session, session.begin():
            # after any expansion under way (PostgreSQL: rows taken in another order could
            # deadlock; SQLite: the write lock)
            await deliveries.lock_expansion(session)
            dropped = await deliveries.do_drop_received_before(session, cutoff)
            self.deliveries_dropped += dropped
            if dropped:
                detail = {"deliveries": dropped, "days": self._policy.days}
                await staff.do_audit(session, None, "retention", "webhook_deliveries", now, detail)
        if dropped:
            log.warning(
                "retention: %d webhook deliveries older than %d days deleted unexpanded",
                dropped,
                self._policy.days,
            )

    async def _forget(
        self, conversation_id: int, now: dt.datetime, cutoff: dt.datetime
    ) -> Forgotten | None:
        async with self._sessions() as session, session.begin():
            forgotten = await privacy.do_forget(
                session,
                conversation_id,
                mode=self._policy.mode,
                now=now,
                tracker=self._tracker,
                idle_cutoff=cutoff,
            )
            if forgotten is not None:
                await staff.do_audit(
                    session,
                    None,
                    "retention",
                    f"conversation:{conversation_id}",
                    now,
                    {"mode": self._policy.mode, "days": self._policy.days},
                )
        return forgotten


def tracker_for(settings: Settings) -> TrackerEvents | None:
    """Rasa's tracker store, when ``RASA_TRACKER_DB_URL`` is set."""
    return TrackerEvents(settings.rasa_tracker_db_url) if settings.rasa_tracker_db_url else None


async def run_retention(
    settings: Settings, sessions: SessionFactory, clock: Callable[[], dt.datetime]
) -> None:
    """Sweep every hour until cancelled (the gateway starts it unless RETENTION_DAYS is 0)."""
    tracker = tracker_for(settings)
    sweeper = RetentionSweeper(
        sessions,
        RetentionPolicy(settings.retention_days, settings.retention_mode),
        tracker,
        clock,
    )
    try:
        await run_forever("retention", sweeper.step, Wakeup(), SWEEP_SECONDS)
    finally:
        if tracker is not None:
            await tracker.close()

"""Expanding stored webhook deliveries into members' messages, dispatch jobs and page events.

The webhook answers the platform as soon as the raw delivery is committed; this worker then
does the rest in batches, in arrival order. Deliveries come from two places: SQLite's receive
log (``bot.db.receive_log``), whose cursor moves in the transaction that expands its rows, and
the ``webhook_deliveries`` table (PostgreSQL's deliveries, and on both backends the ones kept
for another try), whose rows are deleted in the transaction that expands them.

A delivery that cannot be expanded (a bug, not bad input: the webhook checked the body) rolls
its batch back; the batch is then expanded one delivery at a time, and the failing one is kept
in ``webhook_deliveries`` with its error and tried again later, never lost.

Acknowledgements come first: before each transaction the expander waits (up to
``SETTLE_SECONDS``) until no webhook is waiting for its commit, and while webhooks keep
arriving it expands one delivery per transaction, so a burst is acknowledged at full speed and
expanded in the gaps, and a backlog in batches once the burst is over. The receive log is
pruned in those pauses (or every ``PRUNE_EVERY`` rows). On SQLite a step first looks, without
a lock, whether anything is new: an expanding transaction holds the write lock from its start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.accounts import Accounts
from bot.channels.registry import webhook_events
from bot.db.models import DispatchJob
from bot.db.receive_log import ReceiveLog
from bot.db.session import SessionFactory, is_unavailable
from bot.lib.backoff import backoff
from bot.ops import deliveries, erasures
from bot.ops.deliveries import Taken
from bot.ops.events import Tally, do_record_events
from bot.ops.inbox import ReplyTarget
from bot.ops.sql import claim_with_context, finish_leased
from bot.web.body import parse_json
from bot.workers.handoff import Claimed, Handoff
from bot.workers.loop import Wakeup

Handed = tuple[str, Claimed | None]  # a reserved dispatcher and the job claimed for it

log = logging.getLogger(__name__)

BATCH = 100
SETTLE_SECONDS = 0.1
PRUNE_EVERY = 256  # receive log rows; and whenever webhooks pause
RETRY_CAP_SECONDS = 3600.0
ERASURES_CHECK = dt.timedelta(minutes=1)


class DeliveryExpander:
    """One per gateway; gateways take turns (``lock_expansion``, ``lock_log_cursor``)."""

    def __init__(
        self,
        sessions: SessionFactory,
        accounts: Accounts,
        reply_target: ReplyTarget,
        dispatch_wakeup: Wakeup,
        clock: Callable[[], dt.datetime],
        *,
        our_app_ids: frozenset[str] = frozenset(),
        receive_log: ReceiveLog | None = None,
        settle: Callable[[float], Awaitable[bool]] | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        """``settle``: ``Inbox.settle``, to let acknowledgements go first.

        ``handoff``: this process's idle dispatchers, handed the new jobs claimed for them in
        the expanding transaction (``bot.workers.handoff``).
        """
        self._sessions = sessions
        self._accounts = accounts
        self._reply_target = reply_target
        self._dispatch_wakeup = dispatch_wakeup
        self._now = clock
        self._our_app_ids = our_app_ids
        self._log = receive_log
        self._settle = settle
        self._handoff = handoff
        self._read_to = 0  # receive log rows up to here are expanded (or kept in the table)
        self._pruned_to = 0
        self._erasures_checked_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    async def step(self) -> bool:
        """Expand one batch of due deliveries; True if there was one.

        With nothing to expand (on SQLite, the receive log expanded to its newest row), now
        and then forget the erasures that no waiting delivery needs (``bot.ops.erasures``).
        """
        if await self._expand_some():
            return True
        now = self._now()
        if now >= self._erasures_checked_at + ERASURES_CHECK:
            self._erasures_checked_at = now
            await self._forget_erasures(now)
        return False

    async def _expand_some(self) -> bool:
        busy = self._settle is not None and await self._settle(SETTLE_SECONDS)
        limit = 1 if busy else BATCH
        receive_log = self._log
        if receive_log is None:
            return await self._from_table(limit)
        # SQLite: an expanding transaction takes the database's write lock first, which the
        # dispatchers' claims then wait for; so look for work without a lock first.
        if await receive_log.newest_id() > self._read_to and await self._from_log(
            receive_log, limit, busy
        ):
            return True
        if not busy and self._read_to > self._pruned_to:
            await self._prune(receive_log)
        return await self._any_kept_due() and await self._from_table(limit)

    async def _forget_erasures(self, now: dt.datetime) -> None:
        async with self._sessions() as session:
            if not await erasures.any_needed_by_none(session, now):
                return
        async with self._sessions() as session, session.begin():
            if self._log is None:
                await deliveries.lock_expansion(session)
            else:  # the log is another file: its rows must all be expanded
                expanded_to, _ = await deliveries.lock_log_cursor(session, self._log.log_id)
                if await self._log.newest_id() > expanded_to:
                    return
            forgotten = await erasures.do_forget_needed_by_none(session, now)
        log.info("erasures: %d no longer needed, deleted", forgotten)

    async def _any_kept_due(self) -> bool:
        async with self._sessions() as session:
            return await deliveries.any_due(session, self._now())

    async def _from_table(self, limit: int) -> bool:
        taken: list[Taken] = []
        handed: list[Handed] = []
        try:
            async with self._sessions() as session, session.begin():
                await deliveries.lock_expansion(session)
                taken = await deliveries.take_due(session, self._now(), limit)
                tally = await self._expand_all(session, taken)
                await self._claim_for_idle(session, tally.messages, handed)
        except Exception as exc:
            self._let_go(handed)
            if is_unavailable(exc) or not taken:
                raise
            self._batch_failed(taken)
            for delivery in taken:
                await self._table_row_alone(delivery)
            self._dispatch_wakeup.notify()
            return True
        else:
            await self._expanded(taken, tally, handed)
        finally:
            self._let_go(handed)  # cancelled: nothing was handed over
        return bool(taken)

    async def _from_log(self, receive_log: ReceiveLog, limit: int, busy: bool) -> bool:
        taken: list[Taken] = []
        handed: list[Handed] = []
        after = self._read_to
        try:
            async with self._sessions() as session, session.begin():
                after, erased = await deliveries.lock_log_cursor(session, receive_log.log_id)
                taken = [
                    Taken(*row, attempts=0, latest_erasure=erased)
                    for row in await receive_log.read(after, limit)
                ]
                tally = await self._expand_all(session, taken)
                if taken:
                    await deliveries.do_advance_log(session, receive_log.log_id, taken[-1].id)
                await self._claim_for_idle(session, tally.messages, handed)
        except Exception as exc:
            self._let_go(handed)
            if is_unavailable(exc) or not taken:
                raise
            self._batch_failed(taken)
            for delivery in taken:
                await self._log_row_alone(receive_log, delivery)
            self._dispatch_wakeup.notify()
        else:
            await self._expanded(taken, tally, handed)
        finally:
            self._let_go(handed)  # cancelled: nothing was handed over
        # past what this transaction took, or what another gateway had already expanded
        self._read_to = max(self._read_to, taken[-1].id if taken else after)
        caught_up = len(taken) < limit
        if self._read_to > self._pruned_to and (
            (caught_up and not busy) or self._read_to - self._pruned_to >= PRUNE_EVERY
        ):
            await self._prune(receive_log)
        return bool(taken)

    async def _prune(self, receive_log: ReceiveLog) -> None:
        await receive_log.prune(self._read_to)
        self._pruned_to = self._read_to

    async def _expand_all(self, session: AsyncSession, taken: list[Taken]) -> Tally:
        tally = Counter[str]()
        for delivery in taken:
            tally.update(dataclasses.asdict(await self._expand(session, delivery)))
        return Tally(**tally)

    async def _expand(self, session: AsyncSession, delivery: Taken) -> Tally:
        events = webhook_events(delivery.channel, parse_json(delivery.body), self._accounts)
        if delivery.may_hold_erased():
            kept = erasures.without_erased(
                events, await erasures.since(session, delivery.received_at)
            )
            if len(kept) < len(events):
                log.info(
                    "webhook delivery %s: %d events of erased members left out",
                    delivery.id,
                    len(events) - len(kept),
                )
            events = kept
        return await do_record_events(
            session,
            events,
            now=delivery.received_at,
            reply_target=self._reply_target,
            our_app_ids=self._our_app_ids,
        )

    async def _claim_for_idle(
        self, session: AsyncSession, new_jobs: int, handed: list[Handed]
    ) -> None:
        """Claim up to ``new_jobs`` jobs for idle dispatchers, each reserved first.

        Appends each reserved dispatcher with its claim (None if nothing was left to claim)
        to ``handed``, which the caller gives over after the commit, or lets go.
        """
        handoff = self._handoff
        while handoff is not None and len(handed) < new_jobs:
            worker = handoff.reserve()
            if worker is None:
                return
            handed.append((worker, None))
            claimed = await claim_with_context(
                session, DispatchJob, worker, self._now(), handoff.lease
            )
            if claimed is None:
                return
            handed[-1] = (worker, claimed)

    def _let_go(self, handed: list[Handed]) -> None:
        """The transaction failed or was cancelled: its claims are undone; let them go."""
        while handed and self._handoff is not None:
            worker, _ = handed.pop()
            self._handoff.give(worker, None)

    async def _expanded(self, taken: list[Taken], tally: Tally, handed: list[Handed]) -> None:
        """Hand the claimed jobs over and wake a dispatcher for the rest.

        A job claimed for a dispatcher that stopped meanwhile (the process is stopping) is
        released, so that the conversation does not wait for the lease to run out.
        """
        claimed, orphans = 0, []
        while handed and self._handoff is not None:
            worker, job = handed.pop(0)
            claimed += job is not None
            if not self._handoff.give(worker, job) and job is not None:
                orphans.append((worker, job[0]))
        if tally.messages > claimed:
            self._dispatch_wakeup.notify()
        if taken:
            log.info("webhook deliveries: %d expanded, %s", len(taken), tally)
        if orphans:
            async with self._sessions() as session, session.begin():
                for worker, job in orphans:
                    await finish_leased(session, DispatchJob, job.id, worker, {})

    def _batch_failed(self, taken: list[Taken]) -> None:
        log.warning("webhook deliveries: a batch of %d failed, one by one now", len(taken))

    def _retry_at(self, delivery: Taken) -> dt.datetime:
        return self._now() + backoff(delivery.attempts + 1, cap=RETRY_CAP_SECONDS)

    async def _table_row_alone(self, delivery: Taken) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await deliveries.lock_expansion(session)
                again = await deliveries.take_due(session, self._now(), 1, only_id=delivery.id)
                await self._expand_all(session, again)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.exception("webhook delivery %s: cannot be expanded, kept for later", delivery.id)
            async with self._sessions() as session, session.begin():
                await deliveries.do_defer(session, delivery, repr(exc), self._retry_at(delivery))

    async def _log_row_alone(self, receive_log: ReceiveLog, delivery: Taken) -> None:
        try:
            async with self._sessions() as session, session.begin():
                after, erased = await deliveries.lock_log_cursor(session, receive_log.log_id)
                if after < delivery.id:
                    await self._expand(
                        session, dataclasses.replace(delivery, latest_erasure=erased)
                    )
                    await deliveries.do_advance_log(session, receive_log.log_id, delivery.id)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            log.exception("received delivery %s: cannot be expanded, kept for later", delivery.id)
            async with self._sessions() as session, session.begin():
                after, _ = await deliveries.lock_log_cursor(session, receive_log.log_id)
                if after < delivery.id:
                    await deliveries.do_keep(
                        session, delivery, repr(exc), self._retry_at(delivery)
                    )
                    await deliveries.do_advance_log(session, receive_log.log_id, delivery.id)

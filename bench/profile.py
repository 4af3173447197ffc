"""Where the gateway's time goes: its own code, in this process, one message at a time.

The webhook checks, ``Inbox.receive`` (storing the delivery as received), a
``DeliveryExpander`` step (expanding it into a message and its job) and a ``Dispatcher`` step
(which sends the turn's reply itself) run on a fresh database as the gateway wires them,
without HTTP and with a Rasa and a channel sender that answer at once. For each stage and
message: wall time, CPU time (all threads), SQL statements, time inside the database driver's
execute, and for SQLite the round trips to aiosqlite's thread. Then a cProfile of the event
loop's thread over the database stages, summed by package; and the time a dispatcher takes to
claim a job with a backlog waiting.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import pstats
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import aiosqlite.core
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import harness
from bench.report import say
from bench.stats import median
from bench.webhooks import APP_SECRET, delivery, facebook_env, member_questions, signature
from bot.app import utc_now
from bot.channels.accounts import accounts_from_env
from bot.channels.base import OutboundMessage
from bot.channels.facebook import parse as facebook_parse
from bot.channels.facebook import verify as facebook_verify
from bot.db.group_commit import GroupCommit, table_writer
from bot.db.migrate import upgrade
from bot.db.models import DispatchJob
from bot.db.session import create_engine, create_worker_engine, session_factory
from bot.inbox import Inbox
from bot.ops import deliveries
from bot.ops.sql import claim_head_of_line
from bot.web.body import parse_json
from bot.workers.deliveries import DeliveryExpander
from bot.workers.dispatcher import Dispatcher
from bot.workers.loop import Wakeup
from bot.workers.outbox import OutboxWorker, ReplySender

STAGES = (
    "webhook_checks",
    "store_delivery",
    "expand_delivery",
    "dispatch_turn",
    "empty_claim",
)
LEASE = dt.timedelta(seconds=60)
ANSWER = [
    {
        "recipient_id": "x",
        "custom": {
            "kind": "answer",
            "text": "Từ 01/01/2026, lương tối thiểu tháng vùng I là 5.310.000 đ.",
            "faq": "luong_toi_thieu_vung",
            "quick_replies": [{"title": "Hữu ích", "payload": "/feedback_helpful"}],
        },
    }
]


@dataclass(frozen=True)
class Settings:
    """How many messages."""

    messages: int = 300
    warmup: int = 30
    members: int = 50
    backlog: int = 1600  # messages waiting, as after a burst (benchmark 3)
    backlog_members: int = 100
    claims: int = 10  # timed claims with that backlog


QUICK = Settings(messages=10, warmup=2, members=3, backlog=20, backlog_members=10, claims=3)


class InstantRasa:
    """Rasa answering one FAQ answer at once."""

    async def turn(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return ANSWER


class InstantSender:
    """A channel that accepts every message at once."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: OutboundMessage) -> str:
        self.sent += 1
        return f"m_sent_{message.outbox_id}"

    async def typing(self, page_id: str, user_id: str) -> None:
        return None


class Counters:
    """SQL statements, driver execute time and aiosqlite round trips, as they happen."""

    def __init__(self, *engines: AsyncEngine) -> None:
        self.statements = 0
        self.execute_seconds = 0.0
        self.round_trips = 0
        self._started: list[float] = []
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before)
            event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self.statements += 1
        self._started.append(time.perf_counter())

    def _after(self, *_args: Any) -> None:
        self.execute_seconds += time.perf_counter() - self._started.pop()

    def snapshot(self) -> tuple[int, float, int]:
        return self.statements, self.execute_seconds, self.round_trips

    @contextmanager
    def counting_round_trips(self) -> Iterator[None]:
        """Count every call aiosqlite hands to its connection thread."""
        original = aiosqlite.core.Connection._execute
        counters = self

        async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            counters.round_trips += 1
            return await original(self, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]


def by_package(stats: pstats.Stats) -> dict[str, float]:
    """Share (%) of the profiled thread's busy time spent in each package's own code.

    Time waiting in ``epoll`` (for the network or for aiosqlite's thread) is left out.
    """
    totals: Counter[str] = Counter()
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        if name == "<method 'poll' of 'select.epoll' objects>":
            continue  # waiting for I/O or for aiosqlite's thread, not working
        totals[_package(filename, name)] += own
    busy = sum(totals.values()) or 1.0
    return {package: round(100 * seconds / busy, 1) for package, seconds in totals.most_common()}


def _package(filename: str, name: str) -> str:
    for package in ("sqlalchemy", "aiosqlite", "asyncpg", "bot"):
        if f"/{package}/" in filename:
            return package
    if "/asyncio/" in filename or "/selectors.py" in filename:
        return "asyncio event loop"
    if "greenlet" in name:
        return "greenlet switches"
    return "other (built-ins: queues, sockets, json, hmac)"


class Profile:
    """The stages on one database, timed message by message."""

    def __init__(self, engine: AsyncEngine, workers: AsyncEngine, settings: Settings) -> None:
        """``engine``: the webhooks' (console's); ``workers``: the workers' (``bot.app``)."""
        self.settings = settings
        self.counters = Counters(*{engine, workers})
        sessions = self.sessions = session_factory(workers)
        now = utc_now
        reply_target = lambda _c, _p: dt.timedelta(hours=24)  # noqa: E731
        self.inbox = Inbox(
            session_factory(engine),
            GroupCommit(table_writer(engine, deliveries.TABLE)),
            deliveries.received,
            expand_wakeup=Wakeup(),
            dispatch_wakeup=Wakeup(),
            reply_target=reply_target,
            clock=now,
        )
        accounts = accounts_from_env(facebook_env("http://127.0.0.1:9"))
        self.expander = DeliveryExpander(sessions, accounts, reply_target, Wakeup(), now)
        self.sender = InstantSender()
        senders = {"facebook": self.sender}
        self.dispatcher = Dispatcher(
            sessions,
            InstantRasa(),  # type: ignore[arg-type]
            worker_id="bench:d",
            lease=LEASE,
            escalate_after=dt.timedelta(minutes=10),
            outbox_wakeup=Wakeup(),
            clock=now,
            senders=senders,
            replies=ReplySender(sessions, senders, clock=now),
        )
        self.outbox = OutboxWorker(sessions, senders, worker_id="bench:o", lease=LEASE, clock=now)
        self.samples: dict[str, defaultdict[str, list[float]]] = {
            stage: defaultdict(list) for stage in STAGES
        }

    async def measure(self, stage: str, step: Callable[[], Awaitable[Any]], keep: bool) -> Any:
        """Run one stage for one message, recording its costs when ``keep``."""
        before = self.counters.snapshot()
        wall, cpu = time.perf_counter(), time.process_time()
        result = await step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        statements, execute, trips = (
            now - then for now, then in zip(self.counters.snapshot(), before, strict=True)
        )
        if keep:
            sample = self.samples[stage]
            sample["wall_ms"].append(wall * 1000)
            sample["cpu_ms"].append(cpu * 1000)
            sample["driver_execute_ms"].append(execute * 1000)
            sample["statements"].append(statements)
            sample["round_trips"].append(trips)
        return result

    async def one_message(self, number: int, text: str, keep: bool) -> None:
        """One member message through every stage."""
        psid = f"69{number % self.settings.members:014d}"
        raw = delivery(psid, f"m_profile_{number}", text, int(time.time() * 1000))
        header = signature(raw)

        async def checks() -> list[Any]:
            body = parse_json(raw)
            facebook_parse.page_ids(body)
            if not facebook_verify.signature_ok(raw, header, {APP_SECRET}):
                raise RuntimeError("signature")
            return facebook_parse.parse_delivery(body)

        await self.measure("webhook_checks", checks, keep)
        await self.measure("store_delivery", lambda: self.inbox.receive("facebook", raw), keep)
        if not await self.measure("expand_delivery", self.expander.step, keep):
            raise RuntimeError("the expander found no delivery")
        if not await self.measure("dispatch_turn", self.dispatcher.step, keep):
            raise RuntimeError("the dispatcher found no job")
        if await self.outbox.step():
            raise RuntimeError("the dispatcher left its reply to the outbox")
        if await self.measure("empty_claim", self.dispatcher.step, keep):
            raise RuntimeError("the dispatcher found a job it should not have")

    async def claims_with_backlog(self, texts: list[str], analyze: bool) -> dict[str, Any]:
        """Median time of a dispatcher's claim with ``backlog`` messages waiting.

        On PostgreSQL also after ``ANALYZE dispatch_jobs``: the plan of the claim query depends
        on the table's statistics, which lag behind a sudden backlog.
        """
        settings = self.settings
        for number in range(settings.backlog):
            psid = f"backlog-{number % settings.backlog_members}"
            stamp = int(time.time() * 1000)
            raw = delivery(psid, f"m_backlog_{number}", texts[number % len(texts)], stamp)
            await self.inbox.receive("facebook", raw)
        while await self.expander.step():
            pass
        result: dict[str, Any] = {"pending_jobs": settings.backlog}
        result["claim_ms"] = await self._time_claims()
        if analyze:
            async with self.sessions() as session, session.begin():
                await session.execute(text("ANALYZE dispatch_jobs"))
            result["claim_ms_after_analyze"] = await self._time_claims()
        return result

    async def _time_claims(self) -> float:
        times = []
        for _ in range(self.settings.claims):
            started = time.perf_counter()
            async with self.sessions() as session, session.begin():
                claimed = await claim_head_of_line(
                    session, DispatchJob, "bench:c", utc_now(), LEASE
                )
            times.append(time.perf_counter() - started)
            if claimed is None:
                raise RuntimeError("no job to claim in the backlog")
        return round(median(times) * 1000, 2)

    def summary(self) -> dict[str, dict[str, float]]:
        """Median of each figure of each stage."""
        return {
            stage: {name: round(median(values), 3) for name, values in figures.items()}
            for stage, figures in self.samples.items()
        }


async def run_backend(backend: str, settings: Settings) -> dict[str, Any]:
    """Profile the stages on one backend."""
    folder = harness.workdir(f"profile-{backend}")
    say(f"profile on {backend}")
    texts = member_questions()
    async with harness.database(backend, folder) as database_url:
        engine = create_engine(database_url)
        workers = create_worker_engine(database_url, engine)
        try:
            await upgrade(engine)
            bench = Profile(engine, workers, settings)
            profiler = cProfile.Profile()
            with bench.counters.counting_round_trips():
                for number in range(settings.warmup + 2 * settings.messages):
                    keep = settings.warmup <= number < settings.warmup + settings.messages
                    if number == settings.warmup + settings.messages:
                        profiler.enable()  # a second series, profiled (and not timed)
                    await bench.one_message(number, texts[number % len(texts)], keep)
                profiler.disable()
            backlog = await bench.claims_with_backlog(texts, backend == "postgresql")
        finally:
            if workers is not engine:
                await workers.dispose()
            await engine.dispose()
    stages = bench.summary()
    say(json.dumps(stages, indent=1))
    return {
        "messages": settings.messages,
        "stages_median": stages,
        "replies_sent": bench.sender.sent,
        "event_loop_thread_by_package_pct": by_package(pstats.Stats(profiler)),
        "claim_with_backlog": backlog,
    }


async def run(backends: list[str], settings: Settings) -> dict[str, Any]:
    """The profile on each backend."""
    return {
        "parameters": asdict(settings),
        "backends": {backend: await run_backend(backend, settings) for backend in backends},
    }

"""Benchmark 1: webhook ingest, the gateway against a bare aiohttp handler.

Both are separate processes driven by the same load generator with the same signed
deliveries. The gateway stores every delivery (as it arrived) before it answers and expands
it into a message afterwards; Rasa is replaced by a port that never answers
(``tests.helpers.proxy.BlackHole``), so its four dispatch workers each wait on one message and
everything else queues, as it would while Rasa is slow. The gateway is paused while the bare
handler is measured, so that its expanding does not take the bare handler's CPU.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from bench import harness
from bench.loadgen import Run, closed_loop, open_loop
from bench.machine import Sampler, cpu_seconds, memory_mb, memory_summary
from bench.report import say
from bench.stats import latency_summary, median, ratio
from bench.webhooks import Webhooks, member_questions
from bot.db.models import Message
from bot.db.session import create_engine
from tests.helpers.deliveries import unexpanded
from tests.helpers.proxy import BlackHole
from tools.stack import free_port

HOST = "127.0.0.1"
TARGETS = ("bare", "gateway")
RATE_GOAL = 0.25  # of the bare handler's maximum rate
P99_GOAL_MS = 10.0  # at half the gateway's maximum rate


@dataclass(frozen=True)
class Settings:
    """How long and how hard to push."""

    rounds: int = 3  # interleaved rounds per target, for the maximum rate and for latency
    seconds: float = 5.0  # one closed-loop round
    connections: int = 16  # closed-loop clients
    latency_seconds: float = 10.0  # one open-loop round
    warmup_seconds: float = 1.0
    members: int = 1000  # distinct senders, in turn


QUICK = Settings(rounds=1, seconds=0.5, connections=4, latency_seconds=0.5, warmup_seconds=0.2)


async def count_inbound(database_url: str) -> dict[str, int]:
    """Members' messages stored: expanded into ``messages``, and deliveries not expanded yet.

    Each delivery of this benchmark holds one message. The gateway acknowledges faster than
    it expands, so after a run most deliveries are still waiting, stored as they arrived.
    """
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(Message).where(Message.direction == "in")
            expanded = (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    waiting = await unexpanded(database_url)
    return {"expanded": expanded, "waiting": waiting, "stored": expanded + waiting}


async def timed(load: Awaitable[Run], pid: int) -> tuple[Run, dict[str, float]]:
    """Run ``load``; also the CPU used by the target and by this process (the generator)."""
    target0, here0, wall0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
    run = await load
    wall = time.perf_counter() - wall0
    target = cpu_seconds(pid) - target0
    cpu = {
        "target_cpu_pct": round(target / wall * 100),
        "target_cpu_ms_per_request": round(target * 1000 / max(run.ok, 1), 3),
        "generator_cpu_pct": round((time.process_time() - here0) / wall * 100),
    }
    return run, cpu


class Ingest:
    """One backend's run: both processes up, rounds interleaved between them."""

    def __init__(self, settings: Settings, ports: dict[str, int], pids: dict[str, int]) -> None:
        self.settings = settings
        self.ports = ports
        self.pids = pids
        self.texts = member_questions()
        self.members = [f"69{n:014d}" for n in range(settings.members)]
        self.acknowledged = 0  # 200s from the gateway: each one a stored message
        self._runs = 0

    def _webhooks(self, name: str) -> Webhooks:
        self._runs += 1
        return Webhooks(HOST, self.ports[name], self.texts, self.members, f"{name}{self._runs}")

    def _count(self, name: str, run: Run) -> None:
        if name == "gateway":
            self.acknowledged += run.ok

    def _order(self, round_number: int) -> tuple[str, ...]:
        return TARGETS if round_number % 2 == 0 else TARGETS[::-1]

    @contextlib.contextmanager
    def _alone(self, name: str) -> Iterator[None]:
        """While the bare handler is measured, the gateway is stopped (SIGSTOP, then SIGCONT).

        The gateway acknowledges faster than it expands, so between its rounds it is still
        expanding their deliveries; that work must not take the bare handler's CPU.
        """
        stop = name != "gateway"
        if stop:
            os.kill(self.pids["gateway"], signal.SIGSTOP)
        try:
            yield
        finally:
            if stop:
                os.kill(self.pids["gateway"], signal.SIGCONT)

    async def warm_up(self) -> None:
        """A short closed-loop run on each target."""
        for name in TARGETS:
            make = self._webhooks(name).next
            with self._alone(name):
                run = await closed_loop(
                    HOST,
                    self.ports[name],
                    make,
                    self.settings.connections,
                    self.settings.warmup_seconds,
                )
            self._count(name, run)

    async def max_rates(self) -> dict[str, Any]:
        """Closed-loop rounds, interleaved; the median rate of each target and their ratio."""
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
        for number in range(self.settings.rounds):
            for name in self._order(number):
                load = closed_loop(
                    HOST,
                    self.ports[name],
                    self._webhooks(name).next,
                    self.settings.connections,
                    self.settings.seconds,
                )
                with self._alone(name):
                    run, cpu = await timed(load, self.pids[name])
                self._count(name, run)
                rounds[name].append(
                    {"rate": round(run.rate, 1), "errors": run.errors, **cpu}
                    | {"p50_ms": latency_summary(run.latencies)["p50_ms"]}
                )
                say(f"  max rate {name}: {run.rate:.0f}/s ({cpu})")
        medians = {name: round(median([r["rate"] for r in rounds[name]]), 1) for name in TARGETS}
        return {
            "rounds": rounds,
            "median_rate": medians,
            "ratio": ratio(medians["gateway"], medians["bare"]),
        }

    async def latency(self, rate: float) -> dict[str, Any]:
        """Open-loop rounds at ``rate``, interleaved; acknowledgement latency of each target."""
        pooled: dict[str, list[float]] = {name: [] for name in TARGETS}
        service: dict[str, list[float]] = {name: [] for name in TARGETS}
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
        for number in range(self.settings.rounds):
            for name in self._order(number):
                load = open_loop(
                    HOST,
                    self.ports[name],
                    self._webhooks(name).next,
                    rate,
                    self.settings.latency_seconds,
                )
                with self._alone(name):
                    run, cpu = await timed(load, self.pids[name])
                self._count(name, run)
                pooled[name] += run.latencies
                service[name] += run.service
                summary = latency_summary(run.latencies)
                rounds[name].append(
                    {**summary, "errors": run.errors, "connections": run.connections, **cpu}
                )
                say(
                    f"  latency {name} at {rate:.0f}/s: p50 {summary['p50_ms']} ms, "
                    f"p99 {summary['p99_ms']} ms"
                )
        return {
            "rate": round(rate, 1),
            "rounds": rounds,
            "from_schedule": {name: latency_summary(pooled[name]) for name in TARGETS},
            "from_send": {name: latency_summary(service[name]) for name in TARGETS},
        }


async def run_backend(backend: str, settings: Settings) -> dict[str, Any]:
    """Benchmark 1 on one database backend."""
    folder = harness.workdir(f"ingest-{backend}")
    say(f"ingest on {backend} (logs in {folder})")
    async with harness.Graph() as graph, harness.database(backend, folder) as database_url:
        with BlackHole() as hole:
            ports = {"bare": free_port(), "gateway": free_port()}
            env = harness.gateway_env(graph, RASA_TIMEOUT_SECONDS="3600")
            gateway = harness.gateway_service(ports["gateway"], database_url, hole.url, env)
            bare = harness.bare_service(ports["bare"])
            async with harness.processes(folder, bare, gateway) as running:
                pids = harness.pids(running)
                at_rest = {name: memory_mb(pid) for name, pid in pids.items()}
                bench = Ingest(settings, ports, pids)
                with Sampler(pids) as sampler:
                    await bench.warm_up()
                    rates = await bench.max_rates()
                    latency = await bench.latency(rates["median_rate"]["gateway"] / 2)
                memory = memory_summary(at_rest, sampler, pids)
            stored = await count_inbound(database_url)
    p99 = latency["from_schedule"]["gateway"]["p99_ms"]
    return {
        "max_rate": rates,
        "latency": latency,
        "durability": {"acknowledged_by_gateway": bench.acknowledged, **stored},
        "memory": memory,
        "load_average_during": sampler.load_range(),
        "goals": {
            f"rate_at_least_{RATE_GOAL:.0%}_of_bare": rates["ratio"] >= RATE_GOAL,
            f"p99_ack_at_most_{P99_GOAL_MS:.0f}ms_at_half_rate": p99 <= P99_GOAL_MS,
        },
    }


async def run(backends: list[str], settings: Settings) -> dict[str, Any]:
    """Benchmark 1 on each backend, one after the other."""
    return {
        "parameters": asdict(settings),
        "backends": {backend: await run_backend(backend, settings) for backend in backends},
    }

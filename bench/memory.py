"""Benchmark 4: memory of each process at rest and under load, from /proc/PID/status.

Processes: the gateway, Rasa, the action server (each with its descendants: the action
server's Sanic serves from a worker process) and the bare handler. At rest is after start-up
and one turn; under load is the highest RSS sampled every 0.25 s while the bare handler takes
closed-loop webhook load and then while the stack serves concurrent chats; peak is VmHWM at the
end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench import harness
from bench.e2e import HOST, Turns, concurrent, probe_texts, sequential
from bench.loadgen import closed_loop
from bench.machine import Sampler, memory_mb
from bench.report import say
from bench.webhooks import Webhooks, member_questions
from tools.stack import free_port


@dataclass(frozen=True)
class Settings:
    """Load phases."""

    seconds: float = 20.0  # each load phase
    connections: int = 16  # webhook clients on the bare handler
    conversations: int = 8  # concurrent chats on the stack
    texts: int = 40
    probe_limit: int = 200


QUICK = Settings(seconds=1.0, connections=2, conversations=2, texts=4, probe_limit=40)


async def run_backend(backend: str, settings: Settings) -> dict[str, Any]:
    """Benchmark 4 with the stack on one database backend."""
    folder = harness.workdir(f"memory-{backend}")
    say(f"memory on {backend} (logs in {folder})")
    bare_port = free_port()
    async with (
        harness.Graph() as graph,
        harness.database(backend, folder) as database_url,
        harness.full_stack(folder, database_url, graph) as (running, ports),
        harness.processes(folder, harness.bare_service(bare_port)) as bare,
    ):
        pids = harness.pids(running) | harness.pids(bare)
        texts = await probe_texts(ports.rasa, settings.texts, settings.probe_limit)
        turns = Turns(graph, ports, pids)
        await sequential(turns, texts, 1, 1)
        at_rest = {name: memory_mb(pid) for name, pid in pids.items()}
        members = [f"69{n:014d}" for n in range(100)]
        webhooks = Webhooks(HOST, bare_port, member_questions(), members, "memory")
        with Sampler(pids) as sampler:
            run = await closed_loop(
                HOST, bare_port, webhooks.next, settings.connections, settings.seconds
            )
            say(f"  bare handler: {run.rate:.0f} webhooks/s")
            chats = await concurrent(
                turns, "gateway", texts, settings.conversations, settings.seconds
            )
            say(f"  stack: {chats['turns_per_second']} turns/s")
        at_end = {name: memory_mb(pid) for name, pid in pids.items()}
    return {
        "load": {"bare_webhooks_per_second": round(run.rate, 1), "stack": chats},
        "processes": {
            name: {
                "processes": at_end[name]["processes"],
                "rss_at_rest_mb": at_rest[name]["rss_mb"],
                "rss_under_load_max_mb": sampler.rss_max_mb[name],
                "peak_vmhwm_mb": at_end[name]["peak_mb"],
            }
            for name in pids
        },
        "load_average_during": sampler.load_range(),
    }


async def run(backends: list[str], settings: Settings) -> dict[str, Any]:
    """Benchmark 4 on each backend, one after the other."""
    return {
        "parameters": asdict(settings),
        "backends": {backend: await run_backend(backend, settings) for backend in backends},
    }

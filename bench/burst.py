"""Benchmark 3: a burst of ten times the sustainable turn rate.

The sustainable rate is measured first on the same stack, as in benchmark 2 (concurrent chats
through the gateway). Then members' messages arrive at ten times that rate, open loop, for a few
seconds. Figures: acknowledgement latency during the burst, time until the last reply reached
the fake Graph API, and whether every message got exactly one reply, in order, both at the
fake and in the database.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from bench import harness
from bench.e2e import HOST, Turns, concurrent, probe_texts
from bench.loadgen import open_loop
from bench.machine import Sampler, memory_mb
from bench.report import say
from bench.stats import latency_summary
from bench.webhooks import Posted, Webhooks
from bot.channels.facebook.send import outbox_id_from
from bot.db.models import DispatchJob, Message, OutboxItem
from bot.db.session import create_engine

SETTLE_SECONDS = 3.0  # after the last expected reply, to catch any extra one


@dataclass(frozen=True)
class Settings:
    """The burst's size."""

    factor: float = 10.0  # times the sustainable rate
    seconds: float = 10.0  # how long messages arrive at that rate
    conversations: int = 100  # distinct members writing during the burst
    measure_conversations: int = 8  # concurrent chats to measure the sustainable rate
    measure_seconds: float = 20.0
    texts: int = 40
    probe_limit: int = 200


QUICK = Settings(
    seconds=1.0,
    conversations=5,
    measure_conversations=2,
    measure_seconds=2.0,
    texts=4,
    probe_limit=40,
)


async def drained(
    graph: harness.Graph, expected: Counter[str], within: float
) -> tuple[bool, float]:
    """Wait until every member has their replies; (all arrived, wall clock of the last one)."""
    deadline = time.monotonic() + within
    while any(len(graph.by_psid[psid]) < count for psid, count in expected.items()):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    complete = all(len(graph.by_psid[psid]) >= count for psid, count in expected.items())
    last = max((m.time.timestamp() for psid in expected for m in graph.by_psid[psid]), default=0)
    return complete, last


async def audit(database_url: str, graph: harness.Graph, posted: list[Posted]) -> dict[str, Any]:
    """Count, in the database and at the fake, what became of each message of the burst."""
    mids = [p.mid for p in posted]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            inbound = dict(
                (
                    await conn.execute(
                        select(Message.id, Message.platform_message_id).where(
                            Message.platform_message_id.in_(mids)
                        )
                    )
                ).all()
            )
            jobs = Counter(
                (
                    await conn.execute(
                        select(DispatchJob.status).where(DispatchJob.message_id.in_(list(inbound)))
                    )
                ).scalars()
            )
            conversations = select(Message.conversation_id).where(Message.id.in_(list(inbound)))
            replies = (
                await conn.execute(
                    select(OutboxItem.id, OutboxItem.status, Message.data)
                    .join(Message, Message.id == OutboxItem.message_id)
                    .where(OutboxItem.conversation_id.in_(conversations))
                )
            ).all()
    finally:
        await engine.dispose()
    reply_to = {item: (data or {}).get("in_reply_to") for item, _, data in replies}
    stored = Counter(reply_to[item] for item, status, _ in replies if status == "sent")
    items = {
        psid: [outbox_id_from(m.body["message"].get("metadata")) for m in graph.by_psid[psid]]
        for psid in {p.psid for p in posted}
    }
    calls = Counter(item for sent in items.values() for item in sent)
    answered = {psid: [reply_to.get(item) or 0 for item in sent] for psid, sent in items.items()}
    at_fake = Counter(message for order in answered.values() for message in order)
    return {
        "messages_posted": len(posted),
        "messages_stored": len(inbound),
        "dispatch_jobs": dict(jobs),
        "replies_sent_in_database": sum(stored.values()),
        "send_api_calls": calls.total(),
        "send_api_calls_per_outbox_item_max": max(calls.values(), default=0),
        "messages_with_exactly_one_reply_at_fake": sum(1 for m in inbound if at_fake[m] == 1),
        "messages_with_exactly_one_sent_reply_in_database": sum(
            1 for m in inbound if stored[m] == 1
        ),
        "replies_in_order_per_conversation": all(o == sorted(o) for o in answered.values()),
    }


async def run_backend(backend: str, settings: Settings) -> dict[str, Any]:
    """Benchmark 3 on one database backend."""
    folder = harness.workdir(f"burst-{backend}")
    say(f"burst on {backend} (logs in {folder})")
    async with (
        harness.Graph() as graph,
        harness.database(backend, folder) as database_url,
        harness.full_stack(folder, database_url, graph) as (running, ports),
    ):
        pids = harness.pids(running)
        texts = await probe_texts(ports.rasa, settings.texts, settings.probe_limit)
        sustainable = await concurrent(
            Turns(graph, ports, pids),
            "gateway",
            texts,
            settings.measure_conversations,
            settings.measure_seconds,
        )
        rate = settings.factor * sustainable["turns_per_second"]
        say(f"  sustainable {sustainable['turns_per_second']} turns/s; burst at {rate:.1f}/s")
        members = [f"burst-{uuid.uuid4().hex[:10]}-{n}" for n in range(settings.conversations)]
        webhooks = Webhooks(HOST, ports.gateway, texts, members, "burst", keep=True)
        with Sampler(pids) as sampler:
            started = time.time()
            acks = await open_loop(HOST, ports.gateway, webhooks.next, rate, settings.seconds)
            acked, ended = time.time(), started + settings.seconds
            expected = Counter(p.psid for p in webhooks.posted)
            timeout = 60 + 20 * len(webhooks.posted) / max(sustainable["turns_per_second"], 0.1)
            complete, last = await drained(graph, expected, timeout)
            await asyncio.sleep(SETTLE_SECONDS)
        say(f"  acks {latency_summary(acks.latencies)}; drained {complete} {last - ended:.1f} s")
        checks = await audit(database_url, graph, webhooks.posted)
        memory = {
            name: {"under_load_rss_max_mb": sampler.rss_max_mb[name], **memory_mb(pid)}
            for name, pid in pids.items()
        }
    return {
        "sustainable_turns_per_second": sustainable["turns_per_second"],
        "burst_rate": round(rate, 1),
        "arrivals_seconds": settings.seconds,
        "last_ack_seconds_from_start": round(acked - started, 2),
        "messages": len(webhooks.posted),
        "messages_per_member_max": max(expected.values()),
        "acknowledged": acks.ok,
        "ack_errors": acks.errors,
        "ack_latency": latency_summary(acks.latencies),
        "echoes_delivered": graph.echoes_delivered,
        "drained": complete,
        "drain_seconds_after_burst": round(last - ended, 2),
        "drain_seconds_from_start": round(last - started, 2),
        "checks": checks,
        "memory": memory,
        "load_average_during": sampler.load_range(),
    }


async def run(backends: list[str], settings: Settings) -> dict[str, Any]:
    """Benchmark 3 on each backend, one after the other."""
    return {
        "parameters": asdict(settings),
        "backends": {backend: await run_backend(backend, settings) for backend in backends},
    }

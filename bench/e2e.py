"""Benchmark 2: a member's turn end to end, against Rasa's own REST webhook.

Through the gateway a turn is: signed webhook POST in, stored, dispatched to Rasa (which calls
the action server), reply stored, sent to the fake Graph API; its latency is the time the fake
recorded the Send API call minus the time the POST was sent. Each reply's echo is delivered
back to the webhook, as Messenger does. The baseline is the same text POSTed straight to the
same Rasa server's REST webhook, until its answer. Texts are real member questions that the
model answers with one FAQ answer (probed first), so every turn through the gateway ends in
exactly one Send API call.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from bench import harness
from bench.loadgen import Connection, http_post
from bench.machine import Sampler, cpu_seconds, memory_mb, memory_summary
from bench.report import say
from bench.stats import latency_summary, median, ms, ratio
from bench.webhooks import Webhooks, member_questions
from bot.channels.limits import text_limit
from bot.db.models import DispatchJob, Message
from bot.db.session import create_engine
from tools.stack import Ports

HOST = "127.0.0.1"
RASA_PATH = "/webhooks/rest/webhook"
REPLY_TIMEOUT = 120.0
RATE_GOAL = 0.9  # of Rasa's turn rate
P50_GOAL = 1.2  # times Rasa's p50
SIDES = ("gateway", "rasa")


@dataclass(frozen=True)
class Settings:
    """How many turns, conversations and seconds."""

    turns: int = 100  # sequential turns per side (latency)
    turns_per_conversation: int = 10  # then a new member: Rasa slows as a tracker grows
    conversations: int = 8  # concurrent conversations per side (throughput)
    seconds: float = 20.0  # one throughput round
    rounds: int = 3  # interleaved throughput rounds per side
    texts: int = 40  # member questions used
    probe_limit: int = 200  # questions tried to find them


QUICK = Settings(
    turns=3,
    turns_per_conversation=2,
    conversations=2,
    seconds=2.0,
    rounds=1,
    texts=4,
    probe_limit=40,
)


def rasa_request(port: int, sender: str, text: str) -> bytes:
    """A POST to Rasa's REST webhook."""
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    return http_post(HOST, port, RASA_PATH, body, {})


def one_plain_answer(answer: Any) -> bool:
    """True for a REST answer that is one FAQ answer, with no handover, fitting one message."""
    if not isinstance(answer, list) or len(answer) != 1:
        return False
    custom = answer[0].get("custom") or {}
    text = custom.get("text") or ""
    return (
        custom.get("kind") == "answer"
        and "handoff" not in custom
        and 0 < len(text) <= text_limit("facebook")
    )


async def probe_texts(rasa_port: int, wanted: int, limit: int) -> list[str]:
    """Member questions that Rasa answers with one plain FAQ answer (each asked in a new chat)."""
    conn = await Connection.open(HOST, rasa_port)
    chosen = []
    try:
        for number, text in enumerate(member_questions()[:limit]):
            status, body = await conn.exchange(rasa_request(rasa_port, f"probe-{number}", text))
            if status == 200 and one_plain_answer(json.loads(body)):
                chosen.append(text)
                if len(chosen) == wanted:
                    break
    finally:
        conn.close()
    if not chosen:
        raise RuntimeError("no member question got a plain FAQ answer from Rasa")
    return chosen


class Turns:
    """One turn through the gateway or straight to Rasa, timed."""

    def __init__(self, graph: harness.Graph, ports: Ports, pids: dict[str, int]) -> None:
        self.graph = graph
        self.ports = ports
        self.pids = pids
        tag = f"e2e{uuid.uuid4().hex[:6]}"
        self.webhooks = Webhooks(HOST, ports.gateway, [], [], tag, keep=True)
        self.turns_of: dict[str, int] = {}

    async def connect(self, side: str) -> Connection:
        """A keep-alive connection to the gateway or to Rasa."""
        port = self.ports.gateway if side == "gateway" else self.ports.rasa
        return await Connection.open(HOST, port)

    async def gateway(self, conn: Connection, psid: str, text: str) -> tuple[float, float]:
        """Webhook in, Send API call out: (latency, wall clock of the reply)."""
        number = self.turns_of[psid] = self.turns_of.get(psid, 0) + 1
        posted = time.time()
        status, _ = await conn.exchange(self.webhooks.message(psid, text))
        if status != 200:
            raise RuntimeError(f"gateway answered {status}")
        reply = await self.graph.reply_number(psid, number, REPLY_TIMEOUT)
        done = reply.time.timestamp()
        return done - posted, done

    async def rasa(self, conn: Connection, sender: str, text: str) -> tuple[float, float]:
        """Rasa's REST webhook: (latency, wall clock of the answer)."""
        posted = time.time()
        status, body = await conn.exchange(rasa_request(self.ports.rasa, sender, text))
        done = time.time()
        if status != 200 or not json.loads(body):
            raise RuntimeError(f"Rasa answered {status}: {body[:200]!r}")
        return done - posted, done

    def side(self, name: str) -> Callable[[Connection, str, str], Awaitable[tuple[float, float]]]:
        """The turn function of ``name`` (gateway or rasa)."""
        return self.gateway if name == "gateway" else self.rasa


async def sequential(
    turns: Turns, texts: list[str], count: int, per_conversation: int
) -> dict[str, Any]:
    """Turn after turn, the two sides alternating; a new member every ``per_conversation``.

    Rasa's time per turn grows with the conversation's tracker, so one conversation of a
    hundred turns would measure long conversations, which members do not have.
    """
    conns = {name: await turns.connect(name) for name in SIDES}
    psids: list[str] = []
    latencies: dict[str, list[float]] = {name: [] for name in SIDES}
    try:
        for number in range(count):
            if number % per_conversation == 0:
                ids = {name: f"seq-{name}-{uuid.uuid4().hex[:8]}" for name in SIDES}
                psids.append(ids["gateway"])
            text = texts[number % len(texts)]
            for name in SIDES if number % 2 == 0 else SIDES[::-1]:
                latency, _ = await turns.side(name)(conns[name], ids[name], text)
                latencies[name].append(latency)
    finally:
        for conn in conns.values():
            conn.close()
    summary = {name: latency_summary(latencies[name]) for name in SIDES}
    return {
        "psids": psids,
        "turns": count,
        "turns_per_conversation": per_conversation,
        "latency": summary,
        "p50_ratio": ratio(summary["gateway"]["p50_ms"], summary["rasa"]["p50_ms"]),
    }


async def stages(
    database_url: str, graph: harness.Graph, turns: Turns, psids: list[str]
) -> dict[str, Any]:
    """Median time of each stage of ``psids``' turns through the gateway, in milliseconds.

    From the bench's send times, the stored message and job timestamps, and the fake Graph
    API's records of the ``typing_on`` action (sent just before the Rasa call) and the reply.
    """
    posted = [p for p in turns.webhooks.posted if p.psid in psids]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            query = (
                select(Message.platform_message_id, DispatchJob.finished_at)
                .join(DispatchJob, DispatchJob.message_id == Message.id)
                .where(Message.platform_message_id.in_([p.mid for p in posted]))
            )
            finished = {mid: at.timestamp() for mid, at in (await conn.execute(query)).all()}
    finally:
        await engine.dispose()
    parts: dict[str, list[float]] = {"to_typing_on": [], "rasa_turn": [], "to_send_api": []}
    for psid in psids:
        typing = [a.time.timestamp() for a in graph.actions if a.psid == psid]
        replies = [m.time.timestamp() for m in graph.by_psid[psid]]
        his = [p for p in posted if p.psid == psid]
        for post, typed, replied in zip(his, typing, replies, strict=True):
            parts["to_typing_on"].append(typed - post.at)
            parts["rasa_turn"].append(finished[post.mid] - typed)
            parts["to_send_api"].append(replied - finished[post.mid])
    return {name: ms(median(values)) for name, values in parts.items()}


async def concurrent(
    turns: Turns, name: str, texts: list[str], conversations: int, seconds: float
) -> dict[str, Any]:
    """``conversations`` chats at once, each sending its next message after the reply.

    Also the CPU time each process (and this one: client and fake Graph API) used per turn.
    """
    deadline = time.time() + seconds
    done: list[float] = []
    total = 0
    cpu0 = {name: cpu_seconds(pid) for name, pid in turns.pids.items()}
    here0 = time.process_time()

    async def chat(number: int) -> None:
        nonlocal total
        conn = await turns.connect(name)
        who = f"load-{name}-{uuid.uuid4().hex[:8]}"
        try:
            turn = 0
            while time.time() < deadline:
                text = texts[(number + turn) % len(texts)]
                latency, finished = await turns.side(name)(conn, who, text)
                turn += 1
                total += 1
                if finished <= deadline:
                    done.append(latency)
        finally:
            conn.close()

    await asyncio.gather(*(chat(n) for n in range(conversations)))
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in turns.pids.items()}
    cpu["bench"] = time.process_time() - here0
    return {
        "turns_per_second": round(len(done) / seconds, 2),
        "p50_ms": latency_summary(done)["p50_ms"],
        "cpu_ms_per_turn": {
            who: round(used * 1000 / max(total, 1), 1) for who, used in cpu.items()
        },
    }


async def throughput(turns: Turns, texts: list[str], settings: Settings) -> dict[str, Any]:
    """Interleaved rounds of concurrent chats; the median turn rate of each side."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in SIDES}
    for number in range(settings.rounds):
        for name in SIDES if number % 2 == 0 else SIDES[::-1]:
            result = await concurrent(turns, name, texts, settings.conversations, settings.seconds)
            rounds[name].append(result)
            say(f"  throughput {name}: {result}")
    rates = {
        name: round(median([r["turns_per_second"] for r in rounds[name]]), 2) for name in SIDES
    }
    return {
        "conversations": settings.conversations,
        "rounds": rounds,
        "median_turns_per_second": rates,
        "ratio": ratio(rates["gateway"], rates["rasa"]),
    }


async def run_backend(backend: str, settings: Settings) -> dict[str, Any]:
    """Benchmark 2 on one database backend."""
    folder = harness.workdir(f"e2e-{backend}")
    say(f"end to end on {backend} (logs in {folder})")
    async with (
        harness.Graph() as graph,
        harness.database(backend, folder) as database_url,
        harness.full_stack(folder, database_url, graph) as (running, ports),
    ):
        pids = harness.pids(running)
        at_rest = {name: memory_mb(pid) for name, pid in pids.items()}
        texts = await probe_texts(ports.rasa, settings.texts, settings.probe_limit)
        say(f"  {len(texts)} member questions with a plain FAQ answer")
        turns = Turns(graph, ports, pids)
        with Sampler(pids) as sampler:
            await sequential(turns, texts, 2, 2)  # warm-up
            latency = await sequential(
                turns, texts, settings.turns, settings.turns_per_conversation
            )
            latency["gateway_stages_p50_ms"] = await stages(
                database_url, graph, turns, latency.pop("psids")
            )
            say(f"  sequential: {latency}")
            rates = await throughput(turns, texts, settings)
        memory = memory_summary(at_rest, sampler, pids)
        echoes = {"replies_sent": len(graph.sent), "echoes_delivered": graph.echoes_delivered}
    return {
        "texts": len(texts),
        "echoes": echoes,
        "sequential": latency,
        "throughput": rates,
        "memory": memory,
        "load_average_during": sampler.load_range(),
        "goals": {
            f"turn_rate_at_least_{RATE_GOAL:.0%}_of_rasa": rates["ratio"] >= RATE_GOAL,
            f"p50_within_{P50_GOAL}x_rasa": latency["p50_ratio"] <= P50_GOAL,
        },
    }


async def run(backends: list[str], settings: Settings) -> dict[str, Any]:
    """Benchmark 2 on each backend, one after the other."""
    return {
        "parameters": asdict(settings),
        "backends": {backend: await run_backend(backend, settings) for backend in backends},
    }

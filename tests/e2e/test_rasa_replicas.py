"""Two real Rasa servers as docker-compose runs them (docker/endpoints.compose.yml): trackers in
PostgreSQL, conversation locks in Redis, one action server. One conversation's turns alternate
between the replicas and its state carries across; a turn that arrives while another replica is
still running the conversation's previous one waits for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.ops.faq import do_sync_faq
from nlu.faq_source import load_dir
from tests.helpers.databases import create_pg_database, drop_pg_database
from tests.helpers.postgres import PostgresServer
from tools.paths import MODEL, ROOT
from tools.stack import Ports, Running, Service, free_port, services

pytestmark = pytest.mark.stack

ENDPOINTS = ROOT / "docker" / "endpoints.compose.yml"
REDIS_PORT = 6379
LOCK_DB = "15"  # not the default database (1) of docker-compose's lock store

VAGUE_INSURANCE = "bảo hiểm"  # the bot asks which question is meant ...
VAGUE_WAGES = "lương"  # ... and a second vague question in a row goes to staff
MIN_WAGE = "lương tối thiểu vùng 1 năm 2026 là bao nhiêu"


def redis_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", REDIS_PORT)) == 0


def ensure_redis() -> None:
    """Redis on 127.0.0.1:6379: the machine's own, started here if it is down."""
    if redis_up():
        return
    try:
        subprocess.run(
            [
                *("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1"),
                *("--port", str(REDIS_PORT), "--save", "", "--appendonly", "no"),
            ],
            check=True,
            capture_output=True,
        )
    except FileNotFoundError:
        pytest.fail("Redis is not running and redis-server is missing (apt-get install redis)")
    deadline = time.monotonic() + 10
    while not redis_up():
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)


def redis_clients() -> list[dict[str, str]]:
    """Redis's CLIENT LIST, one dict per connection."""
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=5) as sock:
        sock.sendall(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
        reply = sock.recv(65536)
        header, _, text = reply.partition(b"\r\n")
        size = int(header[1:])
        while len(text) < size:
            text += sock.recv(65536)
    lines = text[:size].decode().splitlines()
    return [dict(field.split("=", 1) for field in line.split() if "=" in field) for line in lines]


async def prepare_faq_database(url: str) -> None:
    """The gateway's schema and FAQ store, which the action server reads answers from."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            await do_sync_faq(
                session, load_dir(ROOT / "nlu_data" / "faq"), dt.datetime.now(dt.UTC)
            )
    finally:
        await engine.dispose()


def rasa_replica(name: str, port: int, actions_port: int, env: dict[str, str]) -> Service:
    """`make run`'s Rasa command, with docker-compose's endpoints and its own port."""
    ports = Ports(rasa=port, actions=actions_port)
    rasa = next(s for s in services(ports, "unused", env) if s.name == "rasa")
    argv = list(rasa.argv)
    argv[argv.index("--endpoints") + 1] = str(ENDPOINTS)
    return replace(rasa, name=name, argv=argv)


class SlowRelay:
    """Relays Rasa's calls to the action server, after ``delay`` seconds (in its own thread)."""

    def __init__(self, target_port: int) -> None:
        self.delay = 0.0
        self.port = free_port()
        self._target = f"http://127.0.0.1:{target_port}/webhook"
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _relay(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        body = await request.read()
        async with (
            aiohttp.ClientSession() as http,
            http.post(self._target, data=body, headers={"Content-Type": "application/json"}) as r,
        ):
            return web.Response(body=await r.read(), status=r.status, content_type=r.content_type)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self._relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Replicas:
    """Two running Rasa servers, where their shared state lives, and A's way to its actions."""

    urls: tuple[str, str]
    postgres_port: int
    tracker_db: str
    relay_to_actions_of_a: SlowRelay


@pytest.fixture(scope="module")
def replicas(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    ensure_redis()
    tracker_db, _ = asyncio.run(create_pg_database(postgres))
    faq_db, faq_url = asyncio.run(create_pg_database(postgres))
    asyncio.run(prepare_faq_database(faq_url))
    env = {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(postgres.port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "unused",  # trust authentication
        "RASA_TRACKER_DB": tracker_db,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_LOCK_DB": LOCK_DB,
        "REDIS_LOCK_PREFIX": f"e2e{uuid.uuid4().hex[:12]}",
    }
    ports = Ports(free_port(), free_port(), free_port())
    actions = next(s for s in services(ports, faq_url, env) if s.name == "actions")
    relay = SlowRelay(ports.actions)
    a = rasa_replica("rasa-a", free_port(), relay.port, env)
    b = rasa_replica("rasa-b", free_port(), ports.actions, env)
    running = Running(Path(tmp_path_factory.mktemp("rasa-replicas")) / "log")
    try:
        running.start(actions)
        with ThreadPoolExecutor(2) as pool:  # both load the model at once
            list(pool.map(running.start, (a, b)))
        urls = (a.health_url.removesuffix("/status"), b.health_url.removesuffix("/status"))
        yield Replicas(urls, postgres.port, tracker_db, relay)
    finally:
        running.stop_all()
        relay.close()
        for name in (tracker_db, faq_db):
            asyncio.run(drop_pg_database(postgres, name))


async def say(http: aiohttp.ClientSession, rasa: str, sender: str, text: str) -> str:
    """One turn through a replica's REST channel; the kind of the bot's first reply."""
    body = {"sender": sender, "message": text}
    async with http.post(f"{rasa}/webhooks/rest/webhook", json=body) as response:
        assert response.status == 200, await response.text()
        replies = await response.json()
    assert replies, f"no reply to {text!r}"
    return replies[0]["custom"]["kind"]


async def tracker_texts(http: aiohttp.ClientSession, rasa: str, sender: str) -> list[str]:
    """The member's messages in the conversation's tracker, as one replica reads it."""
    async with http.get(f"{rasa}/conversations/{sender}/tracker") as response:
        tracker = await response.json()
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


async def stored_events(replicas: Replicas, sender: str) -> list[dict]:
    """The conversation's events as rows in Rasa's tracker database, oldest first."""
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=replicas.postgres_port,
        user="postgres",
        database=replicas.tracker_db,
    )
    try:
        rows = await conn.fetch("SELECT data FROM events WHERE sender_id = $1 ORDER BY id", sender)
    finally:
        await conn.close()
    return [json.loads(row["data"]) for row in rows]


async def test_turns_alternating_between_replicas_carry_the_conversation_state(
    replicas: Replicas, http: aiohttp.ClientSession
):
    a, b = replicas.urls
    sender = f"member-{uuid.uuid4().hex[:8]}"
    turns = [
        (a, VAGUE_INSURANCE, "clarify"),
        (b, VAGUE_WAGES, "handoff"),  # B knows that A's last turn was a clarification
        (a, MIN_WAGE, "answer"),
        (b, VAGUE_WAGES, "clarify"),  # ... and that A's answer ended it
    ]
    for rasa, text, kind in turns:
        assert await say(http, rasa, sender, text) == kind, text
    # the same vague question, first in a conversation, is only clarified
    assert await say(http, b, f"fresh-{uuid.uuid4().hex[:8]}", VAGUE_WAGES) == "clarify"

    texts = [text for _, text, _ in turns]
    assert await tracker_texts(http, a, sender) == texts
    assert await tracker_texts(http, b, sender) == texts
    events = await stored_events(replicas, sender)
    assert [e["text"] for e in events if e["event"] == "user"] == texts
    assert [e["value"] for e in events if e["event"] == "slot"] == [True, False, False, True]
    assert [e["name"] for e in events if e["event"] == "action"].count("action_respond") == 4


async def test_a_turn_waits_while_another_replica_runs_the_conversation(
    replicas: Replicas, http: aiohttp.ClientSession
):
    # As when a gateway's lease ran out while Rasa was still working on a message: replica A is
    # slow (its action server answers after 1.5 s) and a message of the same conversation
    # reaches replica B meanwhile. The shared lock makes B wait for A's turn and see its
    # clarification; with Rasa's in-memory lock store B would read the tracker without it and
    # clarify again.
    a, b = replicas.urls
    sender = f"member-{uuid.uuid4().hex[:8]}"
    replicas.relay_to_actions_of_a.delay = 1.5
    try:
        first = asyncio.create_task(say(http, a, sender, VAGUE_INSURANCE))
        await asyncio.sleep(0.5)
        second = await say(http, b, sender, VAGUE_WAGES)
        assert first.done(), "B answered before A's turn ended"
        assert (await first, second) == ("clarify", "handoff")
    finally:
        replicas.relay_to_actions_of_a.delay = 0.0
    events = await stored_events(replicas, sender)
    assert [e["text"] for e in events if e["event"] == "user"] == [VAGUE_INSURANCE, VAGUE_WAGES]
    assert [e["value"] for e in events if e["event"] == "slot"] == [True, False]
    lock_clients = [c for c in redis_clients() if c.get("db") == LOCK_DB]
    assert len(lock_clients) >= 2, "each replica keeps a connection to the lock store"

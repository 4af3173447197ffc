"""The Rasa client over several replicas, with local aiohttp servers standing in for Rasa:
each conversation sticks to one replica, turns fail over when it is unreachable, and only all
replicas down makes the turn fail."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.rasa_client import RasaClient, RasaUnavailable, replica_order
from bot.settings import Settings
from tools.stack import free_port


class FakeRasa:
    """A REST channel that records each sender and answers as Rasa does (or as told)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.senders: list[str] = []
        self.status = 200
        self.delay = 0.0
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        self.server = TestServer(app, host="127.0.0.1")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.senders.append(body["sender"])
        await asyncio.sleep(self.delay)
        answer = [{"recipient_id": body["sender"], "custom": {"kind": "answer", "by": self.name}}]
        return web.json_response(answer, status=self.status)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[FakeRasa, FakeRasa]]:
    pair = FakeRasa("a"), FakeRasa("b")
    for fake in pair:
        await fake.server.start_server()
    yield pair
    for fake in pair:
        await fake.server.close()


def answered_by(messages: list[dict]) -> str:
    return messages[0]["custom"]["by"]


def test_the_order_is_stable_and_does_not_depend_on_how_the_urls_are_listed():
    urls = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]
    for sender in map(str, range(200)):
        order = replica_order(urls, sender)
        assert sorted(order) == sorted(urls)
        assert replica_order(list(reversed(urls)), sender) == order
        assert replica_order(urls, sender) == order
    # SHA-256, not Python's per-process hash(): every gateway process, and the next release,
    # send a conversation to the same replica
    assert "".join(replica_order(urls, str(n))[0][-6] for n in range(12)) == "223133132223"


def test_conversations_spread_over_the_replicas():
    urls = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]
    first = Counter(replica_order(urls, str(n))[0] for n in range(3000))
    assert set(first) == set(urls)
    assert all(800 < count < 1200 for count in first.values()), first
    # the second choice (where a conversation fails over to) is spread too
    second = Counter(replica_order(urls, str(n))[1] for n in range(3000))
    assert all(800 < count < 1200 for count in second.values()), second


def test_removing_a_replica_moves_only_its_own_conversations():
    urls = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]
    for sender in map(str, range(500)):
        before = replica_order(urls, sender)[0]
        after = replica_order(urls[:2], sender)[0]
        assert after == before or before == urls[2]


def test_rasa_url_lists_the_replicas():
    settings = Settings.from_env({"RASA_URL": "http://rasa-1:5005/, http://rasa-2:5005,"})
    assert settings.rasa_urls == ("http://rasa-1:5005/", "http://rasa-2:5005")
    assert Settings.from_env({}).rasa_urls == ("http://127.0.0.1:5005",)


async def test_each_conversation_keeps_its_replica_and_both_get_conversations(
    http: aiohttp.ClientSession, replicas: tuple[FakeRasa, FakeRasa]
):
    a, b = replicas
    rasa = RasaClient(http, [a.url + "/", b.url], 5.0)  # a trailing slash is harmless
    for turn in range(3):
        for sender in map(str, range(20)):
            await rasa.turn(sender, f"turn {turn}", {})
    assert a.senders and b.senders
    assert not set(a.senders) & set(b.senders)
    for fake in replicas:
        assert Counter(fake.senders) == dict.fromkeys(set(fake.senders), 3)
        for sender in set(fake.senders):
            assert replica_order([a.url, b.url], sender)[0] == fake.url


async def test_a_turn_fails_over_when_its_replica_refuses_connections(
    http: aiohttp.ClientSession, replicas: tuple[FakeRasa, FakeRasa]
):
    a, b = replicas
    rasa = RasaClient(http, [a.url, b.url], 5.0)
    senders = [str(n) for n in range(20)]
    on_a = [s for s in senders if replica_order([a.url, b.url], s)[0] == a.url]
    assert on_a
    await a.server.close()  # connection refused from now on
    for sender in senders:
        assert answered_by(await rasa.turn(sender, "hello", {})) == "b"
    assert sorted(b.senders) == sorted(senders)


async def test_a_replica_without_a_model_or_behind_a_failing_proxy_is_skipped(
    http: aiohttp.ClientSession, replicas: tuple[FakeRasa, FakeRasa]
):
    a, b = replicas
    rasa = RasaClient(http, [a.url, b.url], 5.0)
    sender = next(s for s in map(str, range(50)) if replica_order([a.url, b.url], s)[0] == a.url)
    a.status = 409  # what Rasa answers when no model is loaded
    assert answered_by(await rasa.turn(sender, "hello", {})) == "b"
    assert a.senders == [sender] and b.senders == [sender]


async def test_a_server_error_is_not_retried_on_another_replica(
    http: aiohttp.ClientSession, replicas: tuple[FakeRasa, FakeRasa]
):
    # Rasa ran (part of) the turn: the dispatcher retries it later, on the same replica
    a, b = replicas
    rasa = RasaClient(http, [a.url, b.url], 5.0)
    sender = next(s for s in map(str, range(50)) if replica_order([a.url, b.url], s)[0] == a.url)
    a.status = 500
    with pytest.raises(RasaUnavailable, match="HTTP 500"):
        await rasa.turn(sender, "hello", {})
    assert b.senders == []


async def test_a_hung_replica_costs_one_timeout_then_is_tried_last(
    http: aiohttp.ClientSession, replicas: tuple[FakeRasa, FakeRasa]
):
    a, b = replicas
    later = [0.0]
    rasa = RasaClient(http, [a.url, b.url], 0.5, clock=lambda: time.monotonic() + later[0])
    senders = [s for s in map(str, range(50)) if replica_order([a.url, b.url], s)[0] == a.url]
    a.delay = 1.0
    # the whole turn has one timeout, so the worker's lease is never outrun
    with pytest.raises(RasaUnavailable, match="TimeoutError"):
        await rasa.turn(senders[0], "hello", {})
    assert b.senders == []
    assert rasa.replicas_for(senders[0]) == [b.url, a.url]
    for sender in senders[:3]:
        assert answered_by(await rasa.turn(sender, "again", {})) == "b"
    assert a.senders == [senders[0]]
    later[0] += 31  # after a while the replica gets its conversations back
    assert rasa.replicas_for(senders[0]) == [a.url, b.url]


async def test_every_replica_down_raises(http: aiohttp.ClientSession):
    urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    rasa = RasaClient(http, urls, 5.0)
    with pytest.raises(RasaUnavailable) as raised:
        await rasa.turn("7", "hello", {})
    for url in urls:
        assert url in str(raised.value)


def test_a_client_needs_a_replica():
    with pytest.raises(ValueError, match="at least one"):
        RasaClient(None, [], 1.0)  # type: ignore[arg-type]

"""What the fault tests share: a Facebook-like load that redelivers until answered 200, the real
processes started and killed from an async test, and the exactly-once check.

The load behaves like Messenger's webhook delivery: one member's messages go out in order, each
redelivered (to the next gateway behind the "load balancer") until one answers 200.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import func, select

from bot.db.models import Conversation, DispatchJob, Message, OutboxItem
from bot.db.session import SessionFactory
from tests.fakes.graph_api import FakeGraphApi
from tools.stack import Ports, Running, Service, services

PAGE_ID = "1234567890"
PAGE_TOKEN = "EAAG-fault-page-token"
APP_SECRET = "fb-app-secret-for-fault-tests"
APP_ID = 1111111111

# Questions the trained model answers with confidence (checked with `make classify`), so every
# message gets a bot answer and no conversation is handed to staff.
QUESTIONS = (
    "luong toi thieu vung 1 nam nay bao nhieu",
    "thu viec toi da bao nhieu ngay",
    "nghi phep nam duoc may ngay",
    "bhxh that nghiep huong bao nhieu thang",
    "nghi thai san duoc bao lau",
    "nghi le tet duoc may ngay",
    "tuoi nghi huu cua nu la bao nhieu",
    "dong doan phi bao nhieu",
)


def gateway_env(graph: FakeGraphApi, lease_seconds: int) -> dict[str, str]:
    """Settings for gateways serving one Facebook page against the fake Graph API.

    ``lease_seconds`` must be longer than the faults that stop a send's echo from being
    recorded (a database restart), as the default minute is in production.
    """
    return {
        "WORKER_POLL_SECONDS": "0.2",
        "LEASE_SECONDS": str(lease_seconds),
        "SEND_TIMEOUT_SECONDS": "3",
        "FACEBOOK_VERIFY_TOKEN": "fault-tests-verify-token",
        "FACEBOOK_PAGES": PAGE_ID,
        f"FACEBOOK_PAGE_{PAGE_ID}_APP_SECRET": APP_SECRET,
        f"FACEBOOK_PAGE_{PAGE_ID}_ACCESS_TOKEN": PAGE_TOKEN,
        f"FACEBOOK_PAGE_{PAGE_ID}_APP_ID": str(APP_ID),
        "FACEBOOK_GRAPH_URL": graph.base_url,
    }


@dataclass
class Delivered:
    """One member message the load got a 200 for."""

    psid: str
    index: int  # its place among this member's messages
    text: str


@dataclass
class FacebookLoad:
    """Members writing to the page through the gateways at ``urls`` (tried in turn)."""

    urls: list[str]
    accepted: dict[str, Delivered] = field(default_factory=dict)
    first_member: int = 0  # members are numbered from here (loads on one page must not overlap)
    refusals: collections.Counter[str] = field(default_factory=collections.Counter)
    _turn: int = 0

    async def member(
        self,
        http: aiohttp.ClientSession,
        psid: str,
        count: int,
        gap: float,
        until: asyncio.Event | None = None,
    ) -> None:
        """One member sends ``count`` questions, ``gap`` seconds apart, each until accepted,
        and goes on writing until ``until`` is set."""
        index = 0
        while index < count or (until is not None and not until.is_set()):
            text = QUESTIONS[(int(psid[-3:]) + index) % len(QUESTIONS)]
            mid = f"m_fault_{psid}_{index}"
            await self._deliver(http, self._body(psid, mid, text))
            self.accepted[mid] = Delivered(psid, index, text)
            index += 1
            await asyncio.sleep(gap)

    async def run(
        self, members: int, count: int, gap: float, until: asyncio.Event | None = None
    ) -> None:
        """All members at once; returns when every message has been accepted.

        ``until``: the members keep writing until it is set, so that faults injected meanwhile
        always meet a load (however fast the stack or slow a restart).
        """
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(
                *(
                    self.member(http, f"69{self.first_member + n:014d}", count, gap, until)
                    for n in range(members)
                )
            )

    @contextlib.asynccontextmanager
    async def during(self, members: int, count: int, gap: float) -> AsyncIterator[None]:
        """The members write while the block runs (faults injected in it always meet a load),
        and on leaving it until each has sent ``count``; if the block fails, they stop."""
        over = asyncio.Event()
        loading = asyncio.create_task(self.run(members, count, gap, until=over))
        try:
            yield
        except BaseException:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            raise
        over.set()
        await loading

    async def _deliver(self, http: aiohttp.ClientSession, raw: bytes) -> None:
        digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
        while True:
            url = self.urls[self._turn % len(self.urls)]
            self._turn += 1
            try:
                timeout = aiohttp.ClientTimeout(total=10)
                async with http.post(url, data=raw, headers=headers, timeout=timeout) as r:
                    if r.status == 200:
                        return
                    self.refusals[f"HTTP {r.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.refusals[type(exc).__name__] += 1
            await asyncio.sleep(0.3)

    @staticmethod
    def _body(psid: str, mid: str, text: str) -> bytes:
        stamp = int(time.time() * 1000)
        event = {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": stamp,
            "message": {"mid": mid, "text": text},
        }
        body = {"object": "page", "entry": [{"id": PAGE_ID, "time": stamp, "messaging": [event]}]}
        return json.dumps(body).encode()


class Processes:
    """The stack's processes, started, killed and restarted from an async test."""

    def __init__(self, running: Running, named: dict[str, Service]) -> None:
        self.running = running
        self.named = named

    @classmethod
    def plan(
        cls,
        running: Running,
        ports_gateways: list[int],
        ports_rasa_actions: tuple[int, int],
        database_url: str,
        env: dict[str, str],
        rasa_url: str,
    ) -> Processes:
        """Gateways on ``ports_gateways`` (gateway-1, gateway-2 ...), actions and Rasa."""
        rasa_port, actions_port = ports_rasa_actions
        gateway, actions, rasa = services(
            Ports(ports_gateways[0], rasa_port, actions_port), database_url, env, rasa_url
        )
        named = {"actions": actions, "rasa": rasa}
        for n, port in enumerate(ports_gateways, start=1):
            named[f"gateway-{n}"] = dataclasses.replace(
                gateway,
                name=f"gateway-{n}",
                env={**gateway.env, "GATEWAY_PORT": str(port)},
                health_url=f"http://127.0.0.1:{port}/healthz",
            )
        return cls(running, named)

    async def start(self, name: str) -> None:
        """Start ``name`` and wait until it is healthy (this loop keeps serving meanwhile)."""
        await asyncio.to_thread(self.running.start, self.named[name])

    async def kill(self, name: str) -> None:
        """kill -9 ``name`` (its whole process group)."""
        await asyncio.to_thread(self.running.stop, name, signal.SIGKILL)

    async def stop_all(self) -> None:
        """Stop everything still running."""
        await asyncio.to_thread(self.running.stop_all)


async def wait_until_quiet(
    db: SessionFactory, graph: FakeGraphApi, load: FacebookLoad, within: float
) -> None:
    """Until every accepted message is stored, its turn done and every reply sent once."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "in")
            )
            pending_jobs = await session.scalar(
                select(func.count(DispatchJob.id)).where(DispatchJob.status == "pending")
            )
            pending_sends = await session.scalar(
                select(func.count(OutboxItem.id)).where(OutboxItem.status == "pending")
            )
            items = await session.scalar(select(func.count()).select_from(OutboxItem))
        if (
            stored == len(load.accepted)
            and pending_jobs == 0
            and pending_sends == 0
            and len(graph.sent) >= items
        ):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"not quiet after {within:.0f} s: {stored} of {len(load.accepted)} stored, "
        f"{pending_jobs} turns and {pending_sends} sends pending, {len(graph.sent)} of {items} "
        "replies at the Send API"
    )


async def assert_each_answered_once_in_order(
    db: SessionFactory, graph: FakeGraphApi, load: FacebookLoad
) -> None:
    """Every accepted message: stored once, one bot turn, each reply at the Send API once, in
    the order the member wrote; nothing handed to staff."""
    async with db() as session:
        inbound = (await session.scalars(select(Message).where(Message.direction == "in"))).all()
        outbound = (await session.scalars(select(Message).where(Message.direction == "out"))).all()
        jobs = (await session.scalars(select(DispatchJob))).all()
        items = (await session.scalars(select(OutboxItem))).all()
        modes = (await session.scalars(select(Conversation.mode))).all()
    by_mid = {m.platform_message_id: m for m in inbound}
    assert len(by_mid) == len(inbound), "a member message was stored twice"
    assert set(by_mid) == set(load.accepted), "stored messages differ from accepted ones"
    assert collections.Counter(j.message_id for j in jobs) == collections.Counter(
        m.id for m in inbound
    ), "not exactly one turn job per message"
    assert {j.status for j in jobs} == {"done"}, "a turn did not complete"
    assert set(modes) == {"bot"}, "a conversation was handed to staff"

    replies: dict[int, list[Message]] = collections.defaultdict(list)
    for reply in outbound:
        assert reply.author == "bot", f"unexpected {reply.author} reply: {reply.text[:60]}"
        replies[(reply.data or {}).get("in_reply_to")].append(reply)
    for message in inbound:
        texts = [r.text for r in replies.get(message.id, [])]
        assert texts, f"no reply to message {message.id}"
        assert len(texts) == len(set(texts)), f"message {message.id} answered twice"

    assert {i.status for i in items} == {"sent"}
    outbox_ids = collections.Counter(m.body["message"].get("metadata", "") for m in graph.sent)
    assert outbox_ids == collections.Counter(f"outbox:{i.id}" for i in items), (
        "the Send API did not get every reply exactly once"
    )

    reply_to = {i.id: i.message_id for i in items}
    message_of_reply = {r.id: r.data["in_reply_to"] for r in outbound}
    index_of = {m.id: load.accepted[m.platform_message_id].index for m in inbound}
    seen: dict[str, list[int]] = collections.defaultdict(list)
    for sent in graph.sent:
        outbox_id = int(sent.body["message"]["metadata"].removeprefix("outbox:"))
        seen[sent.psid].append(index_of[message_of_reply[reply_to[outbox_id]]])
    for psid, order in seen.items():
        assert order == sorted(order), f"replies to {psid} out of order: {order}"

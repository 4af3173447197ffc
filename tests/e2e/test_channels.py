"""Facebook and Zalo end to end: recorded payloads with real signatures through the real webhook
endpoints of the real stack (gateway, Rasa, action server), replies checked at local fake Graph
and Zalo servers that validate requests as the platforms document them. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.db.models import ChannelToken, Conversation, Message, OutboxItem
from bot.db.session import SessionFactory, create_engine, session_factory
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.zalo_api import FakeZaloApi, ZaloOa
from tests.helpers.databases import create_pg_database, drop_pg_database, sqlite_url
from tests.helpers.deliveries import wait_until_expanded
from tools.paths import MODEL
from tools.stack import Ports, free_port, run_stack

pytestmark = pytest.mark.stack

FIXTURES = Path(__file__).parent.parent / "fixtures"
PAGE_ID = "1234567890"
PAGE_TOKEN = "EAAG-page-token"
APP_SECRET = "fb-app-secret-for-tests"
VERIFY_TOKEN = "verify-me"
OA_ID = "3662729599332560487"
ZALO_APP_ID = "2553928453557884079"
ZALO_APP_SECRET = "zalo-app-secret"
OA_SECRET = "zalo-oa-secret"
FIRST_REFRESH_TOKEN = "refresh-1"


@dataclass
class Channels:
    """The running stack, the fakes it talks to, and its database."""

    base_url: str
    graph: FakeGraphApi
    zalo: FakeZaloApi
    db: SessionFactory
    database_url: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def channels(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Channels]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp(f"channels-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        database_url = sqlite_url(workdir)
    else:
        server = request.getfixturevalue("postgres")
        pg_name, database_url = await create_pg_database(server)
    graph = FakeGraphApi({PAGE_ID: PAGE_TOKEN})
    zalo = FakeZaloApi(
        {OA_ID: ZaloOa(ZALO_APP_ID, ZALO_APP_SECRET, "never-issued", FIRST_REFRESH_TOKEN)}
    )
    await graph.start()
    await zalo.start()
    env = {
        "WORKER_POLL_SECONDS": "0.2",
        "FACEBOOK_VERIFY_TOKEN": VERIFY_TOKEN,
        "FACEBOOK_PAGES": PAGE_ID,
        f"FACEBOOK_PAGE_{PAGE_ID}_APP_SECRET": APP_SECRET,
        f"FACEBOOK_PAGE_{PAGE_ID}_ACCESS_TOKEN": PAGE_TOKEN,
        f"FACEBOOK_PAGE_{PAGE_ID}_APP_ID": "1111111111",
        "FACEBOOK_GRAPH_URL": graph.base_url,
        "ZALO_OAS": OA_ID,
        f"ZALO_OA_{OA_ID}_APP_ID": ZALO_APP_ID,
        f"ZALO_OA_{OA_ID}_APP_SECRET": ZALO_APP_SECRET,
        f"ZALO_OA_{OA_ID}_OA_SECRET": OA_SECRET,
        f"ZALO_OA_{OA_ID}_REFRESH_TOKEN": FIRST_REFRESH_TOKEN,
        "ZALO_OPENAPI_URL": zalo.url,
        "ZALO_OAUTH_URL": zalo.url,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    ports = Ports(free_port(), free_port(), free_port())
    engine = create_engine(database_url)
    # the stack starts in a thread so that this loop keeps serving the fakes meanwhile (the
    # gateway renews its Zalo token as soon as it starts)
    stack = run_stack(ports, database_url, workdir / "log", env)
    try:
        await asyncio.to_thread(stack.__enter__)
        try:
            yield Channels(
                f"http://127.0.0.1:{ports.gateway}",
                graph,
                zalo,
                session_factory(engine),
                database_url,
            )
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)
    finally:
        await engine.dispose()
        await graph.close()
        await zalo.close()
        if pg_name:
            await drop_pg_database(request.getfixturevalue("postgres"), pg_name)


def fixture(channel: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / channel / f"{name}.json").read_text())


def now_ms() -> int:
    return int(time.time() * 1000)


def facebook_now(body: dict[str, Any], sent_ago: dt.timedelta = dt.timedelta()) -> bytes:
    """The recorded body with its timestamps moved to now (minus ``sent_ago``), serialized."""
    body = copy.deepcopy(body)
    stamp = now_ms() - int(sent_ago.total_seconds() * 1000)
    for entry in body["entry"]:
        entry["time"] = stamp
        for event in entry.get("messaging", []):
            event["timestamp"] = stamp
    return json.dumps(body, ensure_ascii=False).encode()


def facebook_signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def zalo_now(body: dict[str, Any]) -> bytes:
    body = {**copy.deepcopy(body), "timestamp": str(now_ms())}
    return json.dumps(body, ensure_ascii=False).encode()


def zalo_signature(raw: bytes, secret: str = OA_SECRET) -> str:
    body = json.loads(raw)
    data = body["app_id"].encode() + raw + body["timestamp"].encode() + secret.encode()
    return "mac=" + hashlib.sha256(data).hexdigest()


async def post(
    http: aiohttp.ClientSession, url: str, raw: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json", **headers}
    async with http.post(url, data=raw, headers=headers) as response:
        return response.status, await response.text()


async def count_messages(channels: Channels, **filters: Any) -> int:
    """Messages stored, once the gateway has expanded every delivery it acknowledged."""
    await wait_until_expanded(channels.database_url)
    async with channels.db() as session:
        query = select(func.count()).select_from(Message).filter_by(**filters)
        return (await session.execute(query)).scalar_one()


async def eventually(check: Callable[[], Any], within: float = 60.0) -> Any:
    """Poll the async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_facebook_handshake(channels: Channels, http: aiohttp.ClientSession):
    url = f"{channels.base_url}/webhooks/facebook"
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
    async with http.get(url, params=good) as response:
        assert (response.status, await response.text()) == (200, "1158")
    async with http.get(url, params={**good, "hub.verify_token": "wrong"}) as response:
        assert response.status == 403


async def test_a_batch_of_three_gets_three_replies_and_a_redelivery_none(
    channels: Channels, http: aiohttp.ClientSession
):
    batch = fixture("facebook", "batch_3")
    members = [
        event["sender"]["id"]
        for entry in batch["entry"]
        for event in entry["messaging"]
        if "message" in event
    ]
    assert len(members) == 3
    for psid in members:
        channels.graph.user_wrote(psid)
    raw = facebook_now(batch)
    url = f"{channels.base_url}/webhooks/facebook"
    started = time.monotonic()
    status, text = await post(http, url, raw, {"X-Hub-Signature-256": facebook_signature(raw)})
    acknowledged = time.monotonic() - started
    assert (status, text) == (200, "EVENT_RECEIVED")
    assert acknowledged < 2.0  # stored and answered before any bot turn (those take longer)
    assert await count_messages(channels, channel="facebook", direction="in") == 3

    async def replied() -> bool:
        # every member has a reply and nothing is left to send (a sensitive answer is followed
        # by a second message)
        async with channels.db() as session:
            pending = await session.execute(
                select(func.count()).select_from(OutboxItem).filter_by(status="pending")
            )
            drained = pending.scalar_one() == 0
        return drained and all(channels.graph.texts_to(psid) for psid in members)

    assert await eventually(replied)
    for psid in members:
        sends = [m for m in channels.graph.sent if m.psid == psid]
        assert len(sends) >= 1
        assert {m.messaging_type for m in sends} == {"RESPONSE"}
        assert all(m.body["message"]["metadata"].startswith("outbox:") for m in sends)
    # the member saw the bot working
    assert {a.psid for a in channels.graph.actions if a.action == "typing_on"} == set(members)

    sent_before = len(channels.graph.sent)
    status, _ = await post(http, url, raw, {"X-Hub-Signature-256": facebook_signature(raw)})
    assert status == 200
    await asyncio.sleep(2.0)
    assert await count_messages(channels, channel="facebook", direction="in") == 3
    assert len(channels.graph.sent) == sent_before


async def test_bad_facebook_requests_are_refused_and_store_nothing(
    channels: Channels, http: aiohttp.ClientSession
):
    url = f"{channels.base_url}/webhooks/facebook"
    before = await count_messages(channels)
    raw = facebook_now(fixture("facebook", "text"))
    forged = facebook_signature(raw, "not-the-app-secret")
    assert (await post(http, url, raw, {"X-Hub-Signature-256": forged}))[0] == 403
    assert (await post(http, url, raw, {}))[0] == 403
    broken = b'{"object": "page", "entry": ['
    assert (await post(http, url, broken, {"X-Hub-Signature-256": facebook_signature(broken)}))[
        0
    ] == 400
    other_page = json.loads(raw)
    for entry in other_page["entry"]:
        entry["id"] = "999999999"
    other = json.dumps(other_page).encode()
    assert (await post(http, url, other, {"X-Hub-Signature-256": facebook_signature(other)}))[
        0
    ] == 403
    huge = b'{"object": "page", "entry": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert (await post(http, url, huge, {"X-Hub-Signature-256": facebook_signature(huge)}))[
        0
    ] == 413
    assert await count_messages(channels) == before


async def test_a_bot_reply_after_24_hours_is_refused_with_a_reason(
    channels: Channels, http: aiohttp.ClientSession
):
    # Messenger redelivers for up to 36 hours: this message was written 25 hours ago
    body = fixture("facebook", "text")
    event = body["entry"][0]["messaging"][0]
    event["message"]["mid"] = "m_late_delivery_1"
    event["sender"]["id"] = "6999999999999999"  # a member of its own, in bot mode
    raw = facebook_now(body, sent_ago=dt.timedelta(hours=25))
    url = f"{channels.base_url}/webhooks/facebook"
    status, _ = await post(http, url, raw, {"X-Hub-Signature-256": facebook_signature(raw)})
    assert status == 200
    psid = body["entry"][0]["messaging"][0]["sender"]["id"]

    async def failed_items() -> list[OutboxItem]:
        async with channels.db() as session:
            rows = await session.execute(
                select(OutboxItem)
                .join(Conversation, Conversation.id == OutboxItem.conversation_id)
                .where(Conversation.user_id == psid, OutboxItem.status == "failed")
            )
            return list(rows.scalars())

    failed = await eventually(failed_items)
    assert failed, "the late reply was not refused"
    assert all("Quá 24 giờ" in (item.last_error or "") for item in failed)
    assert not channels.graph.texts_to(psid)  # nothing reached the platform
    # staff get the conversation, with the reason on the undelivered reply
    async with channels.db() as session:
        conversation = await session.get(Conversation, failed[0].conversation_id)
        message = await session.get(Message, failed[0].message_id)
    assert conversation.mode == "waiting_staff"
    assert "Quá 24 giờ" in message.data["send_error"]


async def test_a_reply_typed_in_business_suite_puts_staff_in_charge(
    channels: Channels, http: aiohttp.ClientSession
):
    body = fixture("facebook", "echo_staff")
    raw = facebook_now(body)
    url = f"{channels.base_url}/webhooks/facebook"
    status, _ = await post(http, url, raw, {"X-Hub-Signature-256": facebook_signature(raw)})
    assert status == 200
    await wait_until_expanded(channels.database_url)
    member = body["entry"][0]["messaging"][0]["recipient"]["id"]
    async with channels.db() as session:
        conversation = (
            await session.execute(
                select(Conversation).filter_by(channel="facebook", user_id=member)
            )
        ).scalar_one()
        staff = (
            await session.execute(
                select(Message).filter_by(conversation_id=conversation.id, author="staff")
            )
        ).scalar_one()
    assert conversation.mode == "staff"
    assert (staff.author, staff.direction, staff.data["source"]) == (
        "staff",
        "out",
        "platform_tool",
    )
    assert staff.text == body["entry"][0]["messaging"][0]["message"]["text"]


async def test_a_zalo_text_is_answered_with_a_refreshed_token(
    channels: Channels, http: aiohttp.ClientSession
):
    body = fixture("zalo", "user_send_text")
    raw = zalo_now(body)
    url = f"{channels.base_url}/webhooks/zalo"
    forged = zalo_signature(raw, secret=ZALO_APP_SECRET)  # the App Secret is the wrong key
    assert (await post(http, url, raw, {"X-ZEvent-Signature": forged}))[0] == 403
    status, _ = await post(http, url, raw, {"X-ZEvent-Signature": zalo_signature(raw)})
    assert status == 200
    user = body["sender"]["id"]

    async def replied() -> list[str]:
        return channels.zalo.texts_to(user)

    assert await eventually(replied)
    sent = [m for m in channels.zalo.sent if m.user_id == user]
    # the first send used the token obtained with the configured refresh token, exactly once
    assert [(c.refresh_token, c.ok) for c in channels.zalo.refresh_calls] == [
        (FIRST_REFRESH_TOKEN, True)
    ]
    assert sent[0].body == {"recipient": {"user_id": user}, "message": {"text": sent[0].text}}
    async with channels.db() as session:
        row = await session.get(ChannelToken, ("zalo", OA_ID))
    assert row is not None and row.version == 1
    # stored encrypted, never in the clear
    assert channels.zalo.oas[OA_ID].refresh_token not in row.refresh_token
    assert channels.zalo.oas[OA_ID].access_token not in row.access_token

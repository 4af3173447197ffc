"""Every recorded Facebook and Zalo payload through the real webhook endpoints (in process, real
database, real signatures): what each stores, and bad requests refused with nothing stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.app import create_app
from bot.db import receive_log
from bot.db.models import Message
from bot.db.receive_log import receive_log_url
from bot.settings import Settings
from bot.web import keys
from tests.helpers.deliveries import wait_until_expanded
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PAGE, APP_SECRET, OUR_APP = "1234567890", "fb-secret", "1111111111"
OA, OA_SECRET = "3662729599332560487", "oa-secret"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    nowhere = f"http://127.0.0.1:{free_port()}"  # platform calls must never leave the machine
    env = {
        "DATABASE_URL": database_url,
        "FAQ_DIR": str(ROOT / "nlu_data" / "faq"),
        "RASA_URL": nowhere,
        "MAX_BODY_BYTES": "65536",
        "FACEBOOK_VERIFY_TOKEN": "vt",
        "FACEBOOK_PAGES": PAGE,
        f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": APP_SECRET,
        f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "token",
        f"FACEBOOK_PAGE_{PAGE}_APP_ID": OUR_APP,
        "FACEBOOK_GRAPH_URL": nowhere,
        "ZALO_OAS": OA,
        f"ZALO_OA_{OA}_APP_ID": "2553928453557884079",
        f"ZALO_OA_{OA}_APP_SECRET": "app-secret",
        f"ZALO_OA_{OA}_OA_SECRET": OA_SECRET,
        f"ZALO_OA_{OA}_REFRESH_TOKEN": "refresh",
        "ZALO_OPENAPI_URL": nowhere,
        "ZALO_OAUTH_URL": nowhere,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    async with TestClient(TestServer(create_app(Settings.from_env(env)))) as client:
        yield client


def fixture(channel: str, name: str) -> bytes:
    return (FIXTURES / channel / f"{name}.json").read_bytes()


def fb_headers(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def zalo_fresh(raw: bytes) -> bytes:
    """The recorded event signed now (Zalo bodies older than a day are refused as replays)."""
    body = json.loads(raw)
    body["timestamp"] = str(int(time.time() * 1000))
    return json.dumps(body, ensure_ascii=False).encode()


def zalo_headers(raw: bytes, secret: str = OA_SECRET) -> dict[str, str]:
    body = json.loads(raw)
    signed = str(body["app_id"]).encode() + raw + str(body["timestamp"]).encode()
    digest = hashlib.sha256(signed + secret.encode()).hexdigest()
    return {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={digest}"}


async def stored(client: TestClient) -> dict[tuple[str, str], int]:
    """Members' and staff's messages by (author, kind).

    The gateway's own replies are left out: its workers run meanwhile (a picture without words
    gets a holding reply at once, whenever the dispatcher gets to it). Counted once every
    stored delivery has been expanded.
    """
    await wait_until_expanded(client.app[keys.SETTINGS].database_url)
    async with client.app[keys.SESSIONS]() as session:
        rows = await session.execute(
            select(Message.author, Message.kind, func.count())
            .where(Message.author.in_(("member", "staff")))
            .group_by(Message.author, Message.kind)
        )
        return {(author, kind): count for author, kind, count in rows}


MEMBER_TEXT = {("member", "text"): 1}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("text", MEMBER_TEXT),
        ("quick_reply", MEMBER_TEXT),
        ("postback", MEMBER_TEXT),
        ("postback_no_mid", MEMBER_TEXT),
        ("dashboard_test", MEMBER_TEXT),
        ("image", MEMBER_TEXT),
        ("file", MEMBER_TEXT),
        ("audio", MEMBER_TEXT),
        ("sticker_transition", MEMBER_TEXT),
        ("location", MEMBER_TEXT),
        ("fallback_link", MEMBER_TEXT),
        ("batch_3", {("member", "text"): 3}),
        ("echo_ours", {}),  # our own send (metadata and app id): nothing new
        ("echo_staff", {("staff", "text"): 1}),  # typed in Meta Business Suite
        ("read", {}),
        ("delivery", {}),
        ("reaction", {}),
        ("standby", {}),
    ],
)
async def test_facebook_payloads(client, name, expected):
    raw = fixture("facebook", name)
    for _ in range(2):  # the second delivery is a platform retry: nothing more is stored
        response = await client.post("/webhooks/facebook", data=raw, headers=fb_headers(raw))
        assert (response.status, await response.text()) == (200, "EVENT_RECEIVED")
        assert await stored(client) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("user_send_text", MEMBER_TEXT),
        ("user_send_text_payload", MEMBER_TEXT),
        ("numeric_ids", MEMBER_TEXT),
        ("user_send_image", MEMBER_TEXT),
        ("user_send_sticker", MEMBER_TEXT),
        ("user_send_file", MEMBER_TEXT),
        ("user_send_location", MEMBER_TEXT),
        ("user_send_link", MEMBER_TEXT),
        ("user_send_audio", MEMBER_TEXT),
        ("follow", {("member", "follow"): 1}),
        ("unfollow", {("member", "unfollow"): 1}),
        ("oa_send_text_staff", {("staff", "text"): 1}),
        # an OA echo that matches nothing we sent is a reply typed in the OA chat tool
        ("oa_send_text_ours", {("staff", "text"): 1}),
        ("user_seen_message", {}),
        ("user_received_message", {}),
    ],
)
async def test_zalo_payloads(client, name, expected):
    raw = zalo_fresh(fixture("zalo", name))
    for _ in range(2):
        response = await client.post("/webhooks/zalo", data=raw, headers=zalo_headers(raw))
        assert response.status == 200, await response.text()
        assert await stored(client) == expected


@pytest.mark.parametrize(
    ("channel", "name", "sent_here", "stored_raw"),
    [
        ("facebook", "text", None, True),
        ("facebook", "read", None, False),
        ("facebook", "delivery", None, False),
        ("facebook", "reaction", None, False),
        ("facebook", "standby", None, False),
        # our echo before its send is recorded here: kept, it may be what confirms the send
        ("facebook", "echo_ours", None, True),
        ("facebook", "echo_ours", (41, "facebook", "m_41"), True),
        ("facebook", "echo_ours", (42, "facebook", "m_42"), False),  # outbox:42 recorded sent
        ("facebook", "echo_staff", (42, "facebook", "m_42"), True),
        ("zalo", "user_seen_message", None, False),
        ("zalo", "oa_send_text_ours", (7, "zalo", "other"), True),
        ("zalo", "oa_send_text_ours", (7, "zalo", "7d1f0c2b9e8a43560b1f"), False),
    ],
)
async def test_deliveries_with_nothing_to_record_are_answered_but_not_stored(
    client, monkeypatch, channel, name, sent_here, stored_raw
):
    if sent_here is not None:
        client.app[keys.RECENT_SENDS].add(*sent_here)
    inbox = client.app[keys.INBOX]
    received: list[bytes] = []
    receive = inbox.receive

    async def counting(channel: str, body: bytes) -> None:
        received.append(body)
        await receive(channel, body)

    monkeypatch.setattr(inbox, "receive", counting)
    if channel == "facebook":
        raw = fixture(channel, name)
        response = await client.post("/webhooks/facebook", data=raw, headers=fb_headers(raw))
    else:
        raw = zalo_fresh(fixture(channel, name))
        response = await client.post("/webhooks/zalo", data=raw, headers=zalo_headers(raw))
    assert response.status == 200, await response.text()
    assert received == ([raw] if stored_raw else [])


async def test_facebook_refusals_store_nothing(client):
    raw = fixture("facebook", "text")
    other_page = raw.replace(PAGE.encode(), b"999999999")
    deep = b'{"object": "page", "entry": ' + b"[" * 20000 + b"]" * 20000 + b"}"  # valid JSON
    cases: list[tuple[bytes, dict[str, Any], int]] = [
        (raw, fb_headers(raw, "forged"), 403),
        (raw, {"Content-Type": "application/json"}, 403),
        (raw, fb_headers(raw + b" "), 403),  # signed over other bytes
        (other_page, fb_headers(other_page), 403),
        (b"{not json", fb_headers(b"{not json"), 400),
        (b'{"object": "user", "entry": []}', fb_headers(b'{"object": "user", "entry": []}'), 400),
        (deep, fb_headers(deep), 400),
        (b"x" * 70000, fb_headers(b"x" * 70000), 413),
    ]
    for body, headers, status in cases:
        response = await client.post("/webhooks/facebook", data=body, headers=headers)
        assert response.status == status, (body[:40], await response.text())
    assert await stored(client) == {}


async def test_facebook_handshake(client):
    ok = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "42"}
    response = await client.get("/webhooks/facebook", params=ok)
    assert (response.status, await response.text()) == (200, "42")
    for bad in ({**ok, "hub.verify_token": "x"}, {**ok, "hub.mode": "unsubscribe"}):
        assert (await client.get("/webhooks/facebook", params=bad)).status == 403


async def test_zalo_refusals_store_nothing(client):
    raw = zalo_fresh(fixture("zalo", "user_send_text"))
    stale = fixture("zalo", "user_send_text")  # recorded long ago: a replay
    other_oa = raw.replace(OA.encode(), b"1111111111111111111")
    cases: list[tuple[bytes, dict[str, Any], int]] = [
        (raw, zalo_headers(raw, "app-secret"), 403),  # signed with the App Secret
        (raw, {"Content-Type": "application/json"}, 403),
        (stale, zalo_headers(stale), 403),
        (other_oa, zalo_headers(other_oa), 403),
        (b"{not json", {}, 400),
        (b'{"event_name": 5}', {}, 400),
        (b"x" * 70000, {}, 413),
    ]
    for body, headers, status in cases:
        response = await client.post("/webhooks/zalo", data=body, headers=headers)
        assert response.status == status, (body[:40], await response.text())
    assert await stored(client) == {}


async def test_a_delivery_that_cannot_be_written_gets_503_and_is_stored_when_redelivered(
    client, monkeypatch
):
    if receive_log_url(client.app[keys.SETTINGS].database_url) is None:
        pytest.skip("the receive log is SQLite's")
    raw = fixture("facebook", "text")
    failing = {"left": 1}
    real_run = receive_log._run

    def disk_full(connection, statement, values):
        if failing["left"]:
            failing["left"] -= 1
            full = sqlite3.OperationalError("database or disk is full")
            full.sqlite_errorcode = sqlite3.SQLITE_FULL  # as sqlite3 sets it
            raise full
        return real_run(connection, statement, values)

    monkeypatch.setattr(receive_log, "_run", disk_full)
    response = await client.post("/webhooks/facebook", data=raw, headers=fb_headers(raw))
    assert response.status == 503  # not acknowledged: Messenger delivers it again
    assert response.headers["Retry-After"]
    assert await stored(client) == {}
    response = await client.post("/webhooks/facebook", data=raw, headers=fb_headers(raw))
    assert response.status == 200
    assert await stored(client) == MEMBER_TEXT

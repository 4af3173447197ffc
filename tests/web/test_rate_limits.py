"""Rate limits on the real app in process (SQLite, an injected clock: no sleeping): sign-in per
address and per username, the sandbox, webhooks (forged ones refused, signed ones never), the
client address behind trusted proxies only, bounded memory, and the switch that turns it off."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from bot.app import create_app
from bot.settings import Settings
from bot.staff_command import create
from bot.web.ratelimit import LIMITER, Group, Rate, RateLimiter
from tests.helpers.databases import sqlite_url
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
PASSWORD = "mat-khau-du-dai"
PAGE, APP_SECRET = "1234567890", "fb-secret"
OA, OA_SECRET = "3662729599332560487", "oa-secret"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


Gateway = Callable[..., Awaitable[tuple[TestClient, Clock]]]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """Start the app with the given extra settings (the defaults otherwise), and with the
    limiter ``limiter_for(clock)`` instead of the configured one if given."""
    database_url = sqlite_url(tmp_path)
    for username in ("lan", "minh"):
        assert (
            await create(database_url, username, username.title(), "admin", PASSWORD, []) is None
        )
    clients: list[TestClient] = []

    async def start(
        limiter_for: Callable[[Clock], RateLimiter] | None = None, **env: str
    ) -> tuple[TestClient, Clock]:
        nowhere = f"http://127.0.0.1:{free_port()}"
        settings = Settings.from_env(
            {
                "DATABASE_URL": database_url,
                "FAQ_DIR": str(ROOT / "nlu_data" / "faq"),
                "RASA_URL": nowhere,
                "FACEBOOK_VERIFY_TOKEN": "vt",
                "FACEBOOK_PAGES": PAGE,
                f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": APP_SECRET,
                f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "token",
                "FACEBOOK_GRAPH_URL": nowhere,
                "ZALO_OAS": OA,
                f"ZALO_OA_{OA}_APP_ID": "2553928453557884079",
                f"ZALO_OA_{OA}_APP_SECRET": "app-secret",
                f"ZALO_OA_{OA}_OA_SECRET": OA_SECRET,
                f"ZALO_OA_{OA}_REFRESH_TOKEN": "refresh",
                "ZALO_OPENAPI_URL": nowhere,
                "ZALO_OAUTH_URL": nowhere,
                "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                **env,
            }
        )
        clock = Clock()
        app = create_app(settings, clock=clock)
        if limiter_for is not None:
            app[LIMITER] = limiter_for(clock)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, clock

    yield start
    for client in clients:
        await client.close()


async def login(
    client: TestClient, username: str, password: str = PASSWORD, client_ip: str | None = None
) -> Any:
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    return await client.post(
        "/console/api/login", json={"username": username, "password": password}, headers=headers
    )


async def assert_refused(response: Any, retry_after: str) -> None:
    assert response.status == 429
    assert response.headers["Retry-After"] == retry_after
    body = await response.json()
    assert set(body) == {"error"} and "thử lại sau" in body["error"]


def facebook_delivery(mid: str) -> tuple[bytes, dict[str, str]]:
    body = json.loads((FIXTURES / "facebook" / "text.json").read_text())
    body["entry"][0]["messaging"][0]["message"]["mid"] = mid
    raw = json.dumps(body).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def zalo_delivery(now: dt.datetime) -> tuple[bytes, dict[str, str]]:
    body = json.loads((FIXTURES / "zalo" / "user_send_text.json").read_text())
    body["timestamp"] = str(int(now.timestamp() * 1000))
    raw = json.dumps(body, ensure_ascii=False).encode()
    signed = str(body["app_id"]).encode() + raw + str(body["timestamp"]).encode()
    digest = hashlib.sha256(signed + OA_SECRET.encode()).hexdigest()
    return raw, {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={digest}"}


async def test_failed_sign_ins_get_429_after_the_burst_and_recover_with_time(gateway):
    client, clock = await gateway()
    for _ in range(10):  # RATE_LIMIT_LOGIN_IP=10/minute by default
        assert (await login(client, "ghost", "guess")).status == 401
    refused = await login(client, "lan")  # even the right password waits
    await assert_refused(refused, "6")
    assert "Đăng nhập sai quá nhiều lần" in (await refused.json())["error"]

    clock.advance(5)
    await assert_refused(await login(client, "lan"), "1")
    clock.advance(1)  # one token back
    assert (await login(client, "ghost", "guess")).status == 401
    await assert_refused(await login(client, "lan"), "6")
    clock.advance(60)
    assert (await login(client, "lan")).status == 200


async def test_successful_sign_ins_do_not_count(gateway):
    client, _ = await gateway()
    for _ in range(30):
        assert (await login(client, "lan")).status == 200
    for _ in range(10):
        assert (await login(client, "ghost", "guess")).status == 401
    assert (await login(client, "lan")).status == 429


async def test_a_username_is_limited_across_addresses_apart_from_the_lockout(gateway):
    client, clock = await gateway(TRUSTED_PROXIES="127.0.0.1")
    # 20 failures an hour for one username, each from an address of its own; an unknown
    # username has no lockout to stop the guessing
    for n in range(20):
        assert (await login(client, "ghost", "guess", f"198.51.100.{n}")).status == 401
    refused = await login(client, "ghost", "guess", "203.0.113.99")
    await assert_refused(refused, "180")
    assert "3 phút" in (await refused.json())["error"]
    # the address is not blocked, other usernames are not either
    assert (await login(client, "lan", client_ip="203.0.113.99")).status == 200
    clock.advance(180)
    assert (await login(client, "ghost", "guess", "203.0.113.99")).status == 401

    # the lockout (5 failures) answers 423, and those attempts count too
    for n in range(5):
        assert (await login(client, "minh", "wrong-password-1", f"192.0.2.{n}")).status == 401
    for n in range(15):
        assert (await login(client, "minh", client_ip=f"192.0.2.{100 + n}")).status == 423
    clock.advance(16 * 60)  # the lockout is over; 5⅓ of the 20 failures have come back
    for n in range(5):
        assert (
            await login(client, "minh", "wrong-password-1", f"192.0.2.{200 + n}")
        ).status == 401
    await assert_refused(await login(client, "minh", client_ip="192.0.2.250"), "120")


async def test_the_sandbox_is_limited_per_address_and_polling_apart(gateway):
    client, clock = await gateway()
    for n in range(30):  # RATE_LIMIT_SANDBOX=30/minute
        body = {"session": "abcdefgh12", "text": f"câu hỏi {n}", "client_id": f"c{n}"}
        assert (await client.post("/api/sandbox/messages", json=body)).status == 202
    body = {"session": "abcdefgh12", "text": "thêm", "client_id": "c99"}
    refused = await client.post("/api/sandbox/messages", json=body)
    await assert_refused(refused, "2")
    assert "Quá nhiều yêu cầu" in (await refused.json())["error"]
    # reading the replies (the chat page polls every second) is counted apart
    for _ in range(60):
        assert (await client.get("/api/sandbox/messages?session=abcdefgh12")).status == 200
    clock.advance(2)
    assert (await client.post("/api/sandbox/messages", json=body)).status == 202
    assert (await client.post("/api/sandbox/messages", json=body)).status == 429


async def test_forged_webhooks_are_limited_while_signed_deliveries_pass(gateway):
    client, clock = await gateway()
    forged_raw, headers = facebook_delivery("m_forged")
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    for _ in range(10):  # RATE_LIMIT_WEBHOOK_REJECTED=10/minute
        assert (
            await client.post("/webhooks/facebook", data=forged_raw, headers=forged)
        ).status == 403
    await assert_refused(
        await client.post("/webhooks/facebook", data=forged_raw, headers=forged), "6"
    )
    bad_handshake = {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
    assert (await client.get("/webhooks/facebook", params=bad_handshake)).status == 429
    assert (await client.post("/webhooks/zalo", data=b"{}")).status == 429

    # from the very same address, every correctly signed delivery is taken
    for n in range(100):
        raw, headers = facebook_delivery(f"m_signed_{n}")
        response = await client.post("/webhooks/facebook", data=raw, headers=headers)
        assert (response.status, await response.text()) == (200, "EVENT_RECEIVED")
    raw, headers = zalo_delivery(clock.now)
    assert (await client.post("/webhooks/zalo", data=raw, headers=headers)).status == 200
    good_handshake = {**bad_handshake, "hub.verify_token": "vt"}
    assert (await client.get("/webhooks/facebook", params=good_handshake)).status == 200

    assert (await client.post("/webhooks/facebook", data=forged_raw, headers=forged)).status == 429
    clock.advance(6)
    assert (await client.post("/webhooks/facebook", data=forged_raw, headers=forged)).status == 403


def test_webhook_requests_that_fail_on_our_side_never_count_as_rejected():
    limiter = RateLimiter.from_settings(Settings(), Clock())
    for _ in range(100):  # the database restarting: 503 after 503 for a signed delivery
        assert limiter._settle(Group.WEBHOOK, "10.0.0.1", 503) is None
    for _ in range(10):
        assert limiter._settle(Group.WEBHOOK, "10.0.0.1", 403) is None
    assert limiter._settle(Group.WEBHOOK, "10.0.0.1", 403).status == 429


async def test_all_webhook_requests_have_a_generous_limit_of_their_own(gateway):
    client, _ = await gateway(RATE_LIMIT_WEBHOOK="3/minute")
    for n in range(3):
        raw, headers = facebook_delivery(f"m_{n}")
        assert (await client.post("/webhooks/facebook", data=raw, headers=headers)).status == 200
    raw, headers = facebook_delivery("m_3")
    await assert_refused(await client.post("/webhooks/facebook", data=raw, headers=headers), "20")


async def test_forwarded_for_counts_only_from_trusted_proxies(gateway, caplog):
    untrusted, _ = await gateway()
    with caplog.at_level(logging.WARNING, logger="bot.web.ratelimit"):
        for n in range(10):
            assert (await login(untrusted, "ghost", "guess", f"198.51.100.{n}")).status == 401
        assert (await login(untrusted, "lan", client_ip="198.51.100.77")).status == 429
    ignored = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(ignored) == 1 and "TRUSTED_PROXIES" in ignored[0]

    trusted, _ = await gateway(TRUSTED_PROXIES="127.0.0.0/8, 10.0.0.0/8")
    for n in range(15):
        chain = f"198.51.100.{n}, 10.1.2.3"
        assert (await login(trusted, f"ghost{n}", "guess", chain)).status == 401
    for n in range(10):
        assert (await login(trusted, f"other{n}", "guess", "198.51.100.200")).status == 401
    assert (await login(trusted, "lan", client_ip="198.51.100.200")).status == 429
    # what a client writes on the left of the chain does not matter
    assert (await login(trusted, "lan", client_ip="198.51.100.1, 198.51.100.200")).status == 429


async def test_refusals_are_logged_once_per_client_and_period_without_names(gateway, caplog):
    client, clock = await gateway(TRUSTED_PROXIES="127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="bot.web.ratelimit"):
        for _ in range(25):  # 10 failures, then 15 refusals of the address
            await login(client, "ghost.user", "guess", "198.51.100.1")
        for n in range(15):  # 10 more failures, then 5 refusals of the username
            await login(client, "ghost.user", "guess", f"198.51.100.{10 + n}")
        clock.advance(60)
        for n in range(12):  # a minute later: 10 failures, then 2 refusals of the address
            await login(client, f"other{n}", "guess", "198.51.100.1")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.ratelimit"]
    assert [line.split(":")[0] for line in lines] == [
        "rate limit login_ip",
        "rate limit login_user",
        "rate limit login_ip",
    ]
    assert "198.51.100.1" in lines[0] and "retry after" in lines[0]
    assert not any("ghost" in line or "guess" in line for line in lines)


async def test_memory_stays_bounded_when_clients_rotate_addresses(gateway):
    def small(clock: Clock) -> RateLimiter:
        rates = {group: Rate.parse("2/minute") for group in Group}
        return RateLimiter(rates, (ipaddress.ip_network("127.0.0.1"),), clock, max_keys=30)

    client, _ = await gateway(small)
    limiter = client.app[LIMITER]
    for n in range(100):  # every request from an address (an IPv6 /64) of its own
        rotating = {"X-Forwarded-For": f"2001:db8:{n}::1"}
        assert (
            await client.get("/api/sandbox/messages?session=x", headers=rotating)
        ).status == 400
        assert (await client.get("/console/api/me", headers=rotating)).status == 401
        assert (await client.post("/console/api/login", headers=rotating)).status == 415
        assert (await client.post("/webhooks/zalo", data=b"{}", headers=rotating)).status == 400
    assert {group: len(limiter.buckets[group]) for group in limiter.buckets} == {
        Group.LOGIN_IP: 30,
        Group.LOGIN_USER: 0,  # the same buckets, tested in tests/unit/test_rate_limit_bucket.py
        Group.CONSOLE: 30,
        Group.SANDBOX: 0,
        Group.SANDBOX_POLL: 30,
        Group.WEBHOOK: 30,
        Group.WEBHOOK_REJECTED: 30,
    }


async def test_health_checks_and_pages_are_never_limited(gateway):
    tiny = {f"RATE_LIMIT_{group.name}": "1/hour" for group in Group}
    client, _ = await gateway(**tiny)
    for _ in range(50):
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/chat")).status == 200
        assert (await client.get("/console")).status == 200
    assert (await client.get("/console/api/me")).status == 401
    assert (await client.get("/console/api/me")).status == 429


async def test_rate_limits_off_turns_every_limit_off(gateway):
    client, _ = await gateway(RATE_LIMITS="off", RATE_LIMIT_SANDBOX="1/hour")
    assert LIMITER not in client.app
    for _ in range(30):
        assert (await login(client, "ghost", "guess")).status == 401
    for n in range(5):
        body = {"session": "abcdefgh12", "text": "hỏi", "client_id": f"c{n}"}
        assert (await client.post("/api/sandbox/messages", json=body)).status == 202


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"RATE_LIMIT_SANDBOX": "lots"}, "RATE_LIMIT_SANDBOX"),
        ({"RATE_LIMIT_LOGIN_USER": "0/hour"}, "RATE_LIMIT_LOGIN_USER"),
        ({"TRUSTED_PROXIES": "10.0.0.1, lb.internal"}, "TRUSTED_PROXIES"),
    ],
)
def test_a_malformed_setting_stops_the_start_naming_it(env, named):
    with pytest.raises(ValueError, match=named):
        create_app(Settings.from_env(env))

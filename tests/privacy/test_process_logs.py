"""The logs of the real processes at DEBUG: the gateway (``python -m bot``) and the action
server (``python -m rasa_sdk --actions actions --debug``), with Rasa between them, fake Graph and
Zalo APIs behind. Members write their name, phone number, e-mail and employer; a send fails and
is retried. Afterwards no log holds a member's id, words or contact, nor any secret."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.zalo_api import FakeZaloApi, ZaloOa
from tools.paths import MODEL
from tools.stack import Ports, Running, free_port, services

pytestmark = pytest.mark.stack

FIXTURES = Path(__file__).parent.parent / "fixtures"
PAGE, OA = "1234567890123", "3662729599332560487"
PSID, ZALO_USER = "6912345678901234", "6142494823190184727"
UNKNOWN_PAGE = "987654321098765"
NAME = "Nguyễn Thị Hoa"
PHONE, PHONE_DIGITS = "0912 345 678", "0912345678"
EMAIL = "hoa.nguyen@example.com"
EMPLOYER = "Dệt Phú Lâm"
FACEBOOK_TEXT = f"Tôi là {NAME}, {EMPLOYER} nợ lương 3 tháng, gọi {PHONE} hoặc {EMAIL}"
ZALO_TEXT = f"{EMPLOYER} không đóng bhxh, số tôi {PHONE_DIGITS}, mail {EMAIL}"
SECRETS = {
    "FACEBOOK_VERIFY_TOKEN": "verify-token-4f2a",
    f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": "fb-app-secret-91c3",
    f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "EAAGpagetoken7d1e",
    f"ZALO_OA_{OA}_APP_SECRET": "zalo-app-secret-5b8e",
    f"ZALO_OA_{OA}_OA_SECRET": "zalo-oa-secret-2c6f",
    f"ZALO_OA_{OA}_REFRESH_TOKEN": "zalo-refresh-0a9d",
    "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "SMTP_PASSWORD": "smtp-password-77e1",
}
MEMBER_TRACES = (PSID, ZALO_USER, NAME, PHONE, PHONE_DIGITS, EMAIL, EMPLOYER, "nợ lương")


def signed_facebook(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    secret = SECRETS[f"FACEBOOK_PAGE_{PAGE}_APP_SECRET"].encode()
    digest = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def facebook_text(page: str, psid: str, text: str) -> dict[str, Any]:
    body = copy.deepcopy(json.loads((FIXTURES / "facebook" / "text.json").read_text()))
    now_ms = int(time.time() * 1000)
    entry = body["entry"][0]
    entry["id"], entry["time"] = page, now_ms
    event = entry["messaging"][0]
    event["sender"]["id"], event["recipient"]["id"], event["timestamp"] = psid, page, now_ms
    event["message"]["text"], event["message"]["mid"] = text, f"m_{now_ms}_{psid[-4:]}"
    return body


def signed_zalo(text: str) -> tuple[bytes, dict[str, str]]:
    body = json.loads((FIXTURES / "zalo" / "user_send_text.json").read_text())
    body["sender"]["id"] = ZALO_USER
    body["message"]["text"] = text
    body["timestamp"] = str(int(time.time() * 1000))
    raw = json.dumps(body, ensure_ascii=False).encode()
    signed = body["app_id"].encode() + raw + body["timestamp"].encode()
    secret = SECRETS[f"ZALO_OA_{OA}_OA_SECRET"].encode()
    mac = hashlib.sha256(signed + secret).hexdigest()
    return raw, {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}


async def eventually(check: Callable[[], bool], within: float = 90.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def converse(http: aiohttp.ClientSession, gateway: str, actions: str) -> None:
    """Everything a member and Meta do, plus one bad action call straight to the server."""
    hook = f"{gateway}/webhooks/facebook"
    token = SECRETS["FACEBOOK_VERIFY_TOKEN"]
    for verify in (token, "wrong"):
        query = {"hub.mode": "subscribe", "hub.verify_token": verify, "hub.challenge": "7"}
        async with http.get(hook, params=query) as response:
            assert response.status == (200 if verify == token else 403)
    raw, headers = signed_facebook(facebook_text(PAGE, PSID, FACEBOOK_TEXT))
    async with http.post(hook, data=raw, headers=headers) as response:
        assert response.status == 200
    raw, headers = signed_facebook(facebook_text(UNKNOWN_PAGE, PSID, FACEBOOK_TEXT))
    async with http.post(hook, data=raw, headers=headers) as response:
        assert response.status == 403
    raw, headers = signed_zalo(ZALO_TEXT)
    async with http.post(f"{gateway}/webhooks/zalo", data=raw, headers=headers) as response:
        assert response.status == 200
    call = {
        "next_action": f"action_for_{PSID}",
        "sender_id": "1",
        "tracker": {"sender_id": "1", "events": [], "latest_message": {"text": FACEBOOK_TEXT}},
        "domain": {},
    }
    async with http.post(f"{actions}/webhook", json=call) as response:
        assert response.status == 404


async def test_no_log_holds_a_member_or_a_secret(database_url, tmp_path):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    graph = FakeGraphApi({PAGE: SECRETS[f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN"]})
    zalo_app = "2553928453557884079"
    zalo = FakeZaloApi(
        {
            OA: ZaloOa(
                zalo_app,
                SECRETS[f"ZALO_OA_{OA}_APP_SECRET"],
                "never-issued",
                SECRETS[f"ZALO_OA_{OA}_REFRESH_TOKEN"],
            )
        }
    )
    await graph.start()
    await zalo.start()
    env = {
        **SECRETS,
        "LOG_LEVEL": "DEBUG",
        "WORKER_POLL_SECONDS": "0.2",
        "FACEBOOK_PAGES": PAGE,
        f"FACEBOOK_PAGE_{PAGE}_APP_ID": "1111111111",
        "FACEBOOK_GRAPH_URL": graph.base_url,
        "ZALO_OAS": OA,
        f"ZALO_OA_{OA}_APP_ID": zalo_app,
        "ZALO_OPENAPI_URL": zalo.url,
        "ZALO_OAUTH_URL": zalo.url,
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hooks/T0SECRET/B0SECRET",
    }
    ports = Ports(free_port(), free_port(), free_port())
    gateway, actions, rasa = services(ports, database_url, env)
    actions = dataclasses.replace(actions, argv=[*actions.argv, "--debug"])
    # Rasa reads LOG_LEVEL too, and at DEBUG logs every message it parses (docs/privacy.md)
    rasa = dataclasses.replace(rasa, env={**rasa.env, "LOG_LEVEL": "INFO"})
    logs = tmp_path / "log"
    running = Running(logs)
    graph.user_wrote(PSID)
    graph.fail_next("500", times=2)  # the typing indicator, then the reply: retried
    try:
        for service in (gateway, actions, rasa):
            await asyncio.to_thread(running.start, service)
        async with aiohttp.ClientSession() as http:
            await converse(
                http, gateway.health_url.rsplit("/", 1)[0], f"http://127.0.0.1:{ports.actions}"
            )
            assert await eventually(lambda: bool(graph.texts_to(PSID)))
            assert await eventually(lambda: bool(zalo.texts_to(ZALO_USER)))
    finally:
        await asyncio.to_thread(running.stop_all)
        await graph.close()
        await zalo.close()
    assert len(graph.injected) == 2
    issued = [zalo.oas[OA].access_token, zalo.oas[OA].refresh_token]
    forbidden = [*MEMBER_TRACES, UNKNOWN_PAGE, *SECRETS.values(), *issued, "T0SECRET"]

    gateway_log = (logs / "gateway.log").read_text(encoding="utf-8")
    assert " DEBUG " in gateway_log
    assert "send failed" in gateway_log and "retrying" in gateway_log
    assert "typing indicator not shown" in gateway_log
    assert "events for unknown pages ['[id]'] rejected" in gateway_log
    assert "verification refused" in gateway_log
    actions_log = (logs / "actions.log").read_text(encoding="utf-8")
    assert " DEBUG " in actions_log
    assert "No registered action found for name 'action_for_[id]'" in actions_log
    for name, text in (("gateway", gateway_log), ("actions", actions_log)):
        for value in forbidden:
            assert value not in text, f"{name}.log holds {value!r}"
    rasa_log = (logs / "rasa.log").read_text(encoding="utf-8")
    assert rasa_log
    for value in MEMBER_TRACES:
        assert value not in rasa_log, f"rasa.log (INFO) holds {value!r}"

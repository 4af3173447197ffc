"""Hostile requests at every public endpoint of the real app (in process, real database): random
bytes, deep nesting, huge numbers, odd unicode, wrong types. Every answer is a 4xx (or a 2xx for
what happens to be valid), never a 5xx, and the gateway still answers afterwards."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = [
    ("POST", "/webhooks/facebook"),
    ("POST", "/webhooks/zalo"),
    ("POST", "/api/sandbox/messages"),
    ("POST", "/console/api/login"),
    ("GET", "/webhooks/facebook"),
    ("GET", "/api/sandbox/messages"),
]
ODD_TEXT = ["", "\x00", "\ud7ff", "\U0001f600" * 50, "a\u0301" * 30, "\u202e", "%s%n", "💥" * 3]


def hostile_bodies(seed: int = 2026, count: int = 60) -> list[bytes]:
    """Deterministic nasty bodies."""
    rng = random.Random(seed)
    bodies = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'{"object": "page", "entry": [{"id": 1e999}]}',
        b'{"object": "page", "entry": [{"id": "1", "messaging": "x"}]}',
        b'{"event_name": "user_send_text", "recipient": {"id": []}}',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'"' + b"\\ud800" * 100 + b'"',
        json.dumps({"session": "x" * 10, "text": "\x00" * 100}).encode(),
        json.dumps({"username": ["admin"], "password": {"$ne": 1}}).encode(),
        str(10**4000).encode(),
    ]
    for _ in range(count):
        kind = rng.randrange(3)
        if kind == 0:
            bodies.append(rng.randbytes(rng.randrange(1, 400)))
        elif kind == 1:
            value = {
                rng.choice(["object", "entry", "event_name", "session", "text", "username"]): (
                    rng.choice([rng.choice(ODD_TEXT), rng.randrange(-(10**20), 10**20), None, []])
                )
                for _ in range(rng.randrange(1, 5))
            }
            bodies.append(json.dumps(value, ensure_ascii=rng.random() < 0.5).encode())
        else:
            bodies.append(rng.choice(ODD_TEXT).encode("utf-8", "surrogatepass"))
    return bodies


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "FAQ_DIR": str(ROOT / "nlu_data" / "faq"),
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "MAX_BODY_BYTES": "262144",
            "FACEBOOK_VERIFY_TOKEN": "vt",
            "FACEBOOK_PAGES": "1",
            "FACEBOOK_PAGE_1_APP_SECRET": "s",
            "FACEBOOK_PAGE_1_ACCESS_TOKEN": "t",
            "FACEBOOK_GRAPH_URL": f"http://127.0.0.1:{free_port()}",
            # every hostile body must reach its handler (tests/web/test_rate_limits.py checks
            # the limits themselves)
            "RATE_LIMITS": "off",
        }
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def test_no_hostile_request_gets_a_5xx(client):
    answers: dict[int, int] = {}
    for body in hostile_bodies():
        for method, path in ENDPOINTS:
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}
            if method == "GET":
                query = {"session": body[:64].decode("latin-1"), "hub.challenge": "1"}
                response = await client.get(path, params=query)
            else:
                response = await client.post(path, data=body, headers=headers)
            assert response.status < 500, (method, path, body[:60], await response.text())
            answers[response.status] = answers.get(response.status, 0) + 1
    assert (await client.get("/healthz")).status == 200
    assert set(answers) <= {200, 202, 400, 401, 403, 413, 415}, answers


async def test_a_message_with_nul_and_lone_surrogates_is_stored_cleaned(client):
    body = b'{"session": "abcdefgh12", "text": "l\\u0000uong \\ud800toi thieu"}'
    response = await client.post(
        "/api/sandbox/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 202
    listed = await client.get("/api/sandbox/messages", params={"session": "abcdefgh12"})
    [message] = (await listed.json())["messages"]
    assert message["text"] == "luong ?toi thieu"

"""The sandbox API in-process: bad input gets a clear 4xx and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import create_app
from bot.db.models import Message
from bot.settings import Settings
from bot.web import keys
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        faq_dir=ROOT / "nlu_data" / "faq",
        rasa_url=f"http://127.0.0.1:{free_port()}",
        max_body_bytes=4096,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def stored(client: TestClient) -> int:
    async with client.app[keys.SESSIONS]() as session:
        return (await session.execute(select(func.count()).select_from(Message))).scalar_one()


@pytest.mark.parametrize(
    "body, error",
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"session": "short", "text": "hi"}', "session must be"),
        (b'{"session": "abcdefgh12", "text": ""}', "text must be a non-empty string"),
        (b'{"session": "abcdefgh12", "text": 5}', "text must be a non-empty string"),
        (b'{"session": "abcdefgh12", "text": "hi", "client_id": "a b"}', "client_id must be"),
    ],
)
async def test_malformed_messages_get_400_and_store_nothing(client, body, error):
    response = await client.post(
        "/api/sandbox/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert error in (await response.json())["error"]
    assert await stored(client) == 0


async def test_oversized_body_gets_413(client):
    response = await client.post("/api/sandbox/messages", data=b"x" * 5000)
    assert response.status == 413
    assert await stored(client) == 0


async def test_text_over_the_limit_gets_400(client):
    response = await client.post(
        "/api/sandbox/messages", json={"session": "abcdefgh12", "text": "a" * 2001}
    )
    assert response.status == 400
    assert "longer than 2000" in (await response.json())["error"]
    assert await stored(client) == 0


async def test_accepted_message_is_stored_and_listed_for_its_session_only(client):
    response = await client.post(
        "/api/sandbox/messages",
        json={"session": "abcdefgh12", "text": "xin chào", "client_id": "c1"},
    )
    assert response.status == 202
    listed = await (await client.get("/api/sandbox/messages?session=abcdefgh12")).json()
    assert [m["text"] for m in listed["messages"]] == ["xin chào"]
    other = await (await client.get("/api/sandbox/messages?session=zzzzzzzz99")).json()
    assert other == {"mode": "bot", "messages": []}


async def test_listing_rejects_bad_parameters(client):
    assert (await client.get("/api/sandbox/messages?session=x")).status == 400
    bad_after = await client.get("/api/sandbox/messages?session=abcdefgh12&after=z")
    assert bad_after.status == 400


async def test_chat_page_is_served_in_vietnamese(client):
    response = await client.get("/chat")
    assert response.status == 200
    page = await response.text()
    assert '<html lang="vi">' in page and "Nhập câu hỏi" in page


async def test_health_reports_the_database(client):
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"

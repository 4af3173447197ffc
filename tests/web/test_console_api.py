"""The console API in process on both databases: sign-in, lockout, sessions, CSRF, page scopes
(staff of page A can neither read nor act on page B by any URL), and taking a conversation."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import create_app
from bot.channels.base import InboundMessage
from bot.db.models import AuditEntry, Conversation, Message, OutboxItem
from bot.ops.conversations import do_escalate
from bot.ops.deadlines import WarningPolicy, do_sweep
from bot.ops.inbox import do_record_inbound
from bot.ops.outbox import Reply, do_enqueue_reply, do_mark_send_failed
from bot.settings import Settings
from bot.staff_command import create
from bot.web import keys
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mat-khau-du-dai"
T0 = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def console(database_url: str) -> AsyncIterator[tuple[TestClient, Clock]]:
    for username, role, pages in (
        ("admin", "admin", []),
        ("lan", "staff", [("facebook", "page-a")]),
        ("minh", "staff", [("facebook", "page-a")]),
        ("hoa", "staff", [("facebook", "page-b")]),
    ):
        assert (
            await create(database_url, username, username.title(), role, PASSWORD, pages) is None
        )
    settings = Settings(
        database_url=database_url,
        faq_dir=ROOT / "nlu_data" / "faq",
        rasa_url=f"http://127.0.0.1:{free_port()}",
    )
    clock = Clock()
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        yield client, clock


async def escalated(client: TestClient, page: str, user: str) -> int:
    async with client.app[keys.SESSIONS]() as session, session.begin():
        recorded = await do_record_inbound(
            session,
            InboundMessage("facebook", page, user, f"{page}-{user}", "cty nợ lương 3 tháng"),
            now=T0,
            reply_target=dt.timedelta(hours=24),
        )
        await do_escalate(session, recorded.conversation_id, T0)
    return recorded.conversation_id


async def login(client: TestClient, username: str, password: str = PASSWORD):
    return await client.post(
        "/console/api/login", json={"username": username, "password": password}
    )


async def signed_in(client: TestClient, username: str) -> dict[str, str]:
    """Sign in (the client keeps the cookie); the CSRF header to send."""
    client.session.cookie_jar.clear()
    response = await login(client, username)
    assert response.status == 200, await response.text()
    return {"X-CSRF-Token": (await response.json())["csrf_token"]}


async def test_sign_in_sets_a_strict_http_only_cookie_and_wrong_passwords_lock(console):
    client, clock = console
    response = await login(client, "lan")
    cookie = response.cookies["cd_session"]
    assert response.status == 200
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/console"

    for _ in range(5):
        assert (await login(client, "minh", "wrong-password")).status == 401
    locked = await login(client, "minh")  # right password, but locked for 15 minutes
    assert locked.status == 423
    clock.now += dt.timedelta(minutes=16)
    assert (await login(client, "minh")).status == 200
    assert (await login(client, "nobody")).status == 401
    form = await client.post("/console/api/login", data={"username": "lan", "password": PASSWORD})
    assert form.status == 415  # a cross-site form cannot sign anyone in


async def test_sessions_expire_and_end_at_sign_out(console):
    client, clock = console
    csrf = await signed_in(client, "lan")
    assert (await client.get("/console/api/me")).status == 200
    assert (await client.post("/console/api/logout")).status == 403  # no CSRF token
    assert (await client.post("/console/api/logout", headers=csrf)).status == 200
    assert (await client.get("/console/api/me")).status == 401

    await signed_in(client, "lan")
    clock.now += dt.timedelta(hours=13)
    assert (await client.get("/console/api/me")).status == 401


async def test_every_change_needs_the_csrf_token(console):
    client, _ = console
    conversation = await escalated(client, "page-a", "u1")
    csrf = await signed_in(client, "lan")
    url = f"/console/api/conversations/{conversation}/take"
    assert (await client.post(url)).status == 403
    assert (await client.post(url, headers={"X-CSRF-Token": "forged"})).status == 403
    assert (await client.post(url, headers=csrf)).status == 200


async def test_staff_of_page_a_cannot_see_or_touch_page_b(console):
    client, _ = console
    mine = await escalated(client, "page-a", "u1")
    theirs = await escalated(client, "page-b", "u2")
    csrf = await signed_in(client, "lan")
    queue = await (await client.get("/console/api/queue")).json()
    assert [c["id"] for c in queue["conversations"]] == [mine]
    base = f"/console/api/conversations/{theirs}"
    assert (await client.get(base)).status == 404
    for action, body in (
        ("take", None),
        ("reply", {"text": "x"}),
        ("handback", None),
        ("close", None),
    ):
        response = await client.post(f"{base}/{action}", json=body, headers=csrf)
        assert response.status == 404, action
    async with client.app[keys.SESSIONS]() as session:
        other = await session.get(Conversation, theirs)
        staff_messages = (
            (await session.execute(select(Message).where(Message.author == "staff")))
            .scalars()
            .all()
        )
    assert (other.mode, other.holder_id, staff_messages) == ("waiting_staff", None, [])

    admin = await signed_in(client, "admin")  # admins see every page
    queue = await (await client.get("/console/api/queue")).json()
    assert sorted(c["id"] for c in queue["conversations"]) == [mine, theirs]
    assert (await client.get(base)).status == 200 and admin


def jar() -> aiohttp.CookieJar:
    """A browser's cookie jar (accepting cookies from 127.0.0.1)."""
    return aiohttp.CookieJar(unsafe=True)


async def browser_login(browser: aiohttp.ClientSession, base: str, username: str) -> dict:
    async with browser.post(
        f"{base}/console/api/login", json={"username": username, "password": PASSWORD}
    ) as response:
        assert response.status == 200
        return {"X-CSRF-Token": (await response.json())["csrf_token"]}


async def test_two_staff_never_both_hold_a_conversation(console):
    client, _ = console
    conversation = await escalated(client, "page-a", "u1")
    base = str(client.make_url("")).rstrip("/")
    take = f"{base}/console/api/conversations/{conversation}/take"
    reply = f"{base}/console/api/conversations/{conversation}/reply"
    async with (
        aiohttp.ClientSession(cookie_jar=jar()) as lan,
        aiohttp.ClientSession(cookie_jar=jar()) as minh,
    ):
        csrf = {
            lan: await browser_login(lan, base, "lan"),
            minh: await browser_login(minh, base, "minh"),
        }
        first, second = await asyncio.gather(
            lan.post(take, headers=csrf[lan]), minh.post(take, headers=csrf[minh])
        )
        assert sorted([first.status, second.status]) == [200, 409]
        loser = minh if first.status == 200 else lan
        async with loser.post(reply, json={"text": "Chào bạn"}, headers=csrf[loser]) as refused:
            assert refused.status == 409
    async with client.app[keys.SESSIONS]() as session:
        convo = await session.get(Conversation, conversation)
    assert convo.holder_id is not None


async def test_take_reply_hand_back_are_stored_and_audited(console):
    client, _ = console
    conversation = await escalated(client, "page-a", "u1")
    csrf = await signed_in(client, "lan")
    base = f"/console/api/conversations/{conversation}"
    assert (await client.post(f"{base}/reply", json={"text": "x"}, headers=csrf)).status == 409
    assert (await client.post(f"{base}/take", headers=csrf)).status == 200
    detail = await (await client.get(base)).json()
    assert (detail["mode"], detail["held_by_me"], detail["holder"]) == ("staff", True, "Lan")
    assert detail["window"]["can_reply"] is True
    assert [m["text"] for m in detail["messages"]] == ["cty nợ lương 3 tháng"]
    sent = await client.post(
        f"{base}/reply", json={"text": "Chào bạn, mình là Lan."}, headers=csrf
    )
    assert sent.status == 202
    assert (await client.post(f"{base}/reply", json={"text": " "}, headers=csrf)).status == 400
    assert (await client.post(f"{base}/handback", headers=csrf)).status == 200
    async with client.app[keys.SESSIONS]() as session:
        convo = await session.get(Conversation, conversation)
        staff_reply = (
            await session.execute(select(Message).where(Message.author == "staff"))
        ).scalar_one()
        queued = (
            await session.execute(select(OutboxItem).filter_by(message_id=staff_reply.id))
        ).scalar_one()
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert (convo.mode, convo.holder_id) == ("bot", None)
    assert staff_reply.data["staff_id"] == "lan" and queued is not None
    assert [a for a in actions if a in ("take", "reply", "handback")] == [
        "take",
        "reply",
        "handback",
    ]


async def test_faq_search_edit_history_and_flags(console):
    client, clock = console
    csrf = await signed_in(client, "lan")
    found = await (await client.get("/console/api/faq", params={"q": "luong toi thieu"})).json()
    assert "luong_toi_thieu_vung" in [e["slug"] for e in found["entries"]]
    accented = await (await client.get("/console/api/faq", params={"q": "lương tối thiểu"})).json()
    assert [e["slug"] for e in accented["entries"]] == [e["slug"] for e in found["entries"]]

    url = "/console/api/faq/thu_viec"
    entry = next(
        e
        for e in (await (await client.get("/console/api/faq")).json())["entries"]
        if e["slug"] == "thu_viec"
    )
    changed = {**entry, "answer": entry["answer"] + " (đã cập nhật)"}
    response = await client.put(url, json=changed, headers=csrf)
    assert response.status == 200
    assert (await response.json())["reviewed"] == T0.date().isoformat()
    assert (
        await client.put(url, json={**changed, "effective_from": "hôm qua"}, headers=csrf)
    ).status == 400
    history = (await (await client.get(f"{url}/history")).json())["revisions"]
    assert [(r["by"], r["after"]["answer"]) for r in history] == [("Lan", changed["answer"])]
    assert history[0]["before"]["answer"] == entry["answer"]

    clock.now += dt.timedelta(days=400)  # nobody has reviewed the others for a long time
    await signed_in(client, "lan")
    stale = await (await client.get("/console/api/faq", params={"q": "nghi phep nam"})).json()
    assert stale["entries"] and all("stale" in e["flags"] for e in stale["entries"])


async def test_a_staff_answer_becomes_a_draft_seen_only_on_its_pages(console):
    client, _ = console
    conversation = await escalated(client, "page-a", "u1")
    csrf = await signed_in(client, "lan")
    base = f"/console/api/conversations/{conversation}"
    await client.post(f"{base}/take", headers=csrf)
    ids = (
        await (
            await client.post(
                f"{base}/reply", json={"text": "Công ty phải trả lương."}, headers=csrf
            )
        ).json()
    )["message_ids"]
    body = {"conversation_id": conversation, "message_id": ids[0]}
    made = await client.post("/console/api/faq/drafts", json=body, headers=csrf)
    assert made.status == 201
    assert await made.json() == {
        "id": 1,
        "question": "cty nợ lương 3 tháng",
        "answer": "Công ty phải trả lương.",
    }
    assert (await client.post("/console/api/faq/drafts", json=body, headers=csrf)).status == 409
    other = await signed_in(client, "hoa")
    assert (await (await client.get("/console/api/faq/drafts")).json())["drafts"] == []
    assert (await client.post("/console/api/faq/drafts", json=body, headers=other)).status == 404


async def test_reports_cover_only_the_users_pages(console):
    client, clock = console
    await escalated(client, "page-a", "u1")
    await escalated(client, "page-b", "u2")
    clock.now = T0 + dt.timedelta(hours=30)
    await signed_in(client, "lan")
    mine = await (await client.get("/console/api/reports", params={"month": "2026-11"})).json()
    assert (mine["overall"]["total"], mine["overall"]["breaches"]) == (1, 1)
    assert [label for label, _ in mine["breakdowns"]["page"]] == ["page-a"]
    await signed_in(client, "admin")
    everything = await (
        await client.get("/console/api/reports", params={"month": "2026-11"})
    ).json()
    assert everything["overall"]["total"] == 2
    bad = await client.get(
        "/console/api/reports", params={"from": "2026-11-02", "to": "2026-11-01"}
    )
    assert bad.status == 400


async def test_admin_manages_staff_and_reads_the_audit_log(console):
    client, _ = console
    csrf = await signed_in(client, "lan")
    assert (await client.get("/console/api/audit")).status == 403
    new = {
        "username": "tam",
        "display_name": "Tâm",
        "password": PASSWORD,
        "role": "staff",
        "pages": [["zalo", "oa-1"]],
    }
    assert (await client.post("/console/api/staff", json=new, headers=csrf)).status == 403

    csrf = await signed_in(client, "admin")
    short = await client.post("/console/api/staff", json={**new, "password": "ngan"}, headers=csrf)
    assert short.status == 400
    created = await client.post("/console/api/staff", json=new, headers=csrf)
    assert created.status == 201
    tam = await created.json()
    assert tam["pages"] == [["zalo", "oa-1"]]
    tam_browser = await browser_for(client, "tam")
    off = await client.put(f"/console/api/staff/{tam['id']}", json={"active": False}, headers=csrf)
    assert (await off.json())["active"] is False
    async with tam_browser.get(str(client.make_url("/console/api/me"))) as response:
        assert response.status == 401  # deactivating ended the session
    await tam_browser.close()
    audit = (await (await client.get("/console/api/audit")).json())["entries"]
    assert [(e["user"], e["action"], e["target"]) for e in audit[:3]] == [
        ("admin", "update_user", "tam"),
        ("tam", "login", "tam"),
        ("admin", "create_user", "tam"),
    ]
    assert audit[0]["detail"] == {"changed": ["active"]}


async def browser_for(client: TestClient, username: str) -> aiohttp.ClientSession:
    browser = aiohttp.ClientSession(cookie_jar=jar())
    await browser_login(browser, str(client.make_url("")).rstrip("/"), username)
    return browser


async def test_the_queue_streams_changes_live(console):
    client, _ = console
    await signed_in(client, "lan")
    response = await client.get("/console/api/events")
    assert response.headers["Content-Type"] == "text/event-stream"

    async def next_event() -> str:
        lines = []
        while True:
            line = (await response.content.readline()).decode()
            if line == "\n" and lines:
                return "".join(lines)
            if line.strip() and not line.startswith(":"):
                lines.append(line)

    first = await asyncio.wait_for(next_event(), 5)
    assert first.startswith("event: queue")
    await escalated(client, "page-b", "u9")  # another page: no event for Lan
    await escalated(client, "page-a", "u8")
    second = await asyncio.wait_for(next_event(), 5)
    assert second.startswith("event: queue") and second != first
    response.close()


async def test_a_reply_that_could_not_be_sent_is_shown_with_its_reason(console):
    client, _ = console
    conversation = await escalated(client, "page-a", "u1")
    async with client.app[keys.SESSIONS]() as session, session.begin():
        convo = await session.get(Conversation, conversation)
        [message] = await do_enqueue_reply(
            session, convo, Reply("bot", "answer", "Lương tối thiểu vùng I ..."), T0
        )
        item = (
            await session.execute(select(OutboxItem).filter_by(message_id=message.id))
        ).scalar_one()
        item.lease_owner = "w"
        await do_mark_send_failed(session, item, "w", "Quá 24 giờ kể từ tin nhắn cuối", None, T0)
    await signed_in(client, "lan")
    detail = await (await client.get(f"/console/api/conversations/{conversation}")).json()
    [failed] = [m for m in detail["messages"] if m["delivery"] == "failed"]
    assert failed["error"] == "Quá 24 giờ kể từ tin nhắn cuối"


async def test_the_queue_carries_the_deadline_sweeps_warnings(console):
    client, clock = console
    conversation = await escalated(client, "page-a", "u1")
    clock.now = T0 + dt.timedelta(hours=22, minutes=30)
    async with client.app[keys.SESSIONS]() as session, session.begin():
        await do_sweep(session, clock.now, WarningPolicy())
    await signed_in(client, "lan")
    [item] = (await (await client.get("/console/api/queue")).json())["conversations"]
    assert item["id"] == conversation
    closes = (T0 + dt.timedelta(hours=24)).isoformat()  # Messenger: 24 h after the message
    assert item["warnings"] == {"due_6h": closes, "due_2h": closes, "window": closes}

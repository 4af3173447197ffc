"""The fake Graph and Zalo servers accept what the platforms document and refuse the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.zalo_api import FakeZaloApi, RefreshCall, ZaloOa

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

PAGE, TOKEN = "1001", "page-token-1001"
OTHER_PAGE, OTHER_TOKEN = "2002", "page-token-2002"
PSID = "7001"

OA, APP, SECRET = "oa-1", "app-1", "app-secret-1"
USER = "2468458835296197922"


class Clock:
    """A settable clock for the fakes."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def graph(clock: Clock) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(
        {PAGE: TOKEN, OTHER_PAGE: OTHER_TOKEN},
        clock=clock,
        human_agent_pages={PAGE},
        page_names={PAGE: "Công đoàn cơ sở"},
    ) as fake:
        yield fake


@pytest.fixture
def oa() -> ZaloOa:
    return ZaloOa(APP, SECRET, access_token="zat-0", refresh_token="zrt-0")


@pytest.fixture
async def zalo(clock: Clock, oa: ZaloOa) -> AsyncIterator[FakeZaloApi]:
    async with FakeZaloApi({OA: oa}, clock=clock) as fake:
        yield fake


def text_reply(text: str = "Xin chào!", **extra: Any) -> dict[str, Any]:
    body = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": text}}
    body.update(extra)
    return body


async def post_graph(
    http: aiohttp.ClientSession,
    graph: FakeGraphApi,
    body: Any,
    *,
    page: str = "me",
    token: str | None = TOKEN,
) -> tuple[int, dict[str, Any], Any]:
    params = {"access_token": token} if token is not None else {}
    url = f"{graph.url}/v25.0/{page}/messages"
    async with http.post(url, params=params, json=body) as response:
        return response.status, await response.json(), response.headers


async def post_zalo(
    http: aiohttp.ClientSession, zalo: FakeZaloApi, body: Any, token: str | None = "zat-0"
) -> dict[str, Any]:
    headers = {"access_token": token} if token is not None else {}
    async with http.post(f"{zalo.url}/v3.0/oa/message/cs", json=body, headers=headers) as response:
        assert response.status == 200
        return await response.json()


async def refresh(
    http: aiohttp.ClientSession,
    zalo: FakeZaloApi,
    refresh_token: str,
    *,
    secret: str = SECRET,
    app_id: str = APP,
) -> dict[str, Any]:
    form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
    url = f"{zalo.url}/v4/oa/access_token"
    async with http.post(url, data=form, headers={"secret_key": secret}) as response:
        assert response.status == 200
        return await response.json()


def zalo_text(text: str = "Chào bạn", **message: Any) -> dict[str, Any]:
    return {"recipient": {"user_id": USER}, "message": {"text": text, **message}}


# Graph: accepted requests -----------------------------------------------------------------------


async def test_graph_accepts_a_text_reply_on_both_paths(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    status, first, _ = await post_graph(http, graph, text_reply("một"))
    assert status == 200
    assert first["recipient_id"] == PSID
    assert first["message_id"].startswith("m_")
    status, second, _ = await post_graph(http, graph, text_reply("hai"), page=PAGE)
    assert status == 200
    assert second["message_id"] != first["message_id"]
    assert graph.texts_to(PSID) == ["một", "hai"]
    assert [(m.page_id, m.psid, m.time) for m in graph.sent] == [(PAGE, PSID, NOW)] * 2
    assert graph.sent[0].body == text_reply("một")
    assert graph.sent[0].messaging_type == "RESPONSE"
    assert graph.rejected == []


async def test_graph_accepts_limits_quick_replies_and_metadata(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    replies: list[dict[str, Any]] = [
        {"content_type": "text", "title": "t" * 20, "payload": "p" * 1000} for _ in range(12)
    ]
    replies.append({"content_type": "user_phone_number"})
    message = {"text": "x" * 1999, "quick_replies": replies, "metadata": "m" * 999}
    body = {"recipient": {"id": PSID}, "messaging_type": "UPDATE", "message": message}
    status, _, _ = await post_graph(http, graph, body)
    assert status == 200
    assert graph.sent[0].body["message"]["quick_replies"] == replies


@pytest.mark.parametrize("action", ["typing_on", "typing_off", "mark_seen"])
async def test_graph_accepts_sender_actions_without_messaging_type(
    graph: FakeGraphApi, http: aiohttp.ClientSession, action: str
) -> None:
    graph.user_wrote(PSID, NOW - timedelta(days=30))  # actions are not window-checked here
    status, body, _ = await post_graph(
        http, graph, {"recipient": {"id": PSID}, "sender_action": action}
    )
    assert (status, body) == (200, {"recipient_id": PSID})
    assert [(a.page_id, a.psid, a.action) for a in graph.actions] == [(PAGE, PSID, action)]
    assert graph.sent == []


# Graph: documented violations -------------------------------------------------------------------

QR = {"content_type": "text", "title": "Hỏi về lương", "payload": "FAQ_SALARY"}

INVALID_GRAPH_BODIES = {
    "not an object": ["a list"],
    "no recipient": {"messaging_type": "RESPONSE", "message": {"text": "x"}},
    "empty recipient id": text_reply(recipient={"id": ""}),
    "numeric recipient id": text_reply(recipient={"id": 7001}),
    "neither message nor action": {"recipient": {"id": PSID}, "messaging_type": "RESPONSE"},
    "action with message": text_reply(sender_action="typing_on"),
    "unknown action": {"recipient": {"id": PSID}, "sender_action": "react"},
    "no messaging_type": {"recipient": {"id": PSID}, "message": {"text": "x"}},
    "bad messaging_type": text_reply(messaging_type="REPLY"),
    "tag without MESSAGE_TAG": text_reply(tag="HUMAN_AGENT"),
    "MESSAGE_TAG without tag": text_reply(messaging_type="MESSAGE_TAG"),
    "unknown tag": text_reply(messaging_type="MESSAGE_TAG", tag="PROMOTION"),
    "empty text": text_reply(""),
    "text of 2000": text_reply("x" * 2000),
    "text not a string": text_reply(message={"text": 5}),
    "no text": text_reply(message={"attachment": {"type": "image"}}),
    "14 quick replies": text_reply(message={"text": "x", "quick_replies": [QR] * 14}),
    "empty quick replies": text_reply(message={"text": "x", "quick_replies": []}),
    "bad content_type": text_reply(
        message={"text": "x", "quick_replies": [{**QR, "content_type": "location"}]}
    ),
    "title of 21": text_reply(message={"text": "x", "quick_replies": [{**QR, "title": "t" * 21}]}),
    "empty title": text_reply(message={"text": "x", "quick_replies": [{**QR, "title": ""}]}),
    "no payload": text_reply(
        message={"text": "x", "quick_replies": [{"content_type": "text", "title": "t"}]}
    ),
    "payload of 1001": text_reply(
        message={"text": "x", "quick_replies": [{**QR, "payload": "p" * 1001}]}
    ),
    "metadata of 1000": text_reply(message={"text": "x", "metadata": "m" * 1000}),
    "metadata not a string": text_reply(message={"text": "x", "metadata": {"a": 1}}),
    "unknown top-level key": text_reply(messagingType="RESPONSE"),
}


@pytest.mark.parametrize("case", INVALID_GRAPH_BODIES)
async def test_graph_rejects_documented_violations_with_code_100(
    graph: FakeGraphApi, http: aiohttp.ClientSession, case: str
) -> None:
    status, body, _ = await post_graph(http, graph, INVALID_GRAPH_BODIES[case])
    assert status == 400
    error = body["error"]
    assert (error["type"], error["code"]) == ("OAuthException", 100)
    assert error["message"].startswith("(#100) ")
    assert error["fbtrace_id"]
    assert graph.sent == [] and graph.actions == []
    [rejection] = graph.rejected
    assert rejection.status == 400
    assert rejection.reason in error["message"]
    assert rejection.request.body == INVALID_GRAPH_BODIES[case]


async def test_graph_rejects_a_body_that_is_not_json(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    url = f"{graph.url}/v25.0/me/messages"
    async with http.post(url, params={"access_token": TOKEN}, data={"a": "b"}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 100
    assert "application/json" in graph.rejected[0].reason


@pytest.mark.parametrize(
    ("page", "token"),
    [("me", None), ("me", "wrong"), (PAGE, "wrong"), (PAGE, OTHER_TOKEN)],
)
async def test_graph_rejects_missing_wrong_or_foreign_tokens_with_190(
    graph: FakeGraphApi, http: aiohttp.ClientSession, page: str, token: str | None
) -> None:
    status, body, headers = await post_graph(http, graph, text_reply(), page=page, token=token)
    assert status == 400
    assert body["error"]["code"] == 190
    assert body["error"]["message"].startswith("Invalid OAuth access token")
    assert "invalid_token" in headers["WWW-Authenticate"]
    assert graph.sent == [] and len(graph.rejected) == 1


async def test_graph_me_resolves_the_page_owning_the_token(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    status, _, _ = await post_graph(http, graph, text_reply(), token=OTHER_TOKEN)
    assert status == 200
    assert graph.sent[0].page_id == OTHER_PAGE


# Graph: windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("messaging_type", ["RESPONSE", "UPDATE"])
async def test_graph_standard_window_is_24_hours(
    graph: FakeGraphApi, http: aiohttp.ClientSession, clock: Clock, messaging_type: str
) -> None:
    graph.user_wrote(PSID, NOW - timedelta(hours=24))
    status, _, _ = await post_graph(http, graph, text_reply(messaging_type=messaging_type))
    assert status == 200
    clock.now = NOW + timedelta(seconds=1)
    status, body, _ = await post_graph(http, graph, text_reply(messaging_type=messaging_type))
    assert status == 400
    error = body["error"]
    assert (error["code"], error["error_subcode"]) == (10, 2018278)
    assert error["message"] == "(#10) This message is sent outside of allowed window."
    assert len(graph.sent) == 1
    assert "window" in graph.rejected[0].reason


async def test_graph_user_wrote_defaults_to_the_fake_clock(
    graph: FakeGraphApi, http: aiohttp.ClientSession, clock: Clock
) -> None:
    graph.user_wrote(PSID)
    assert graph.last_user_message_at[PSID] == NOW
    clock.now = NOW + timedelta(hours=25)
    status, _, _ = await post_graph(http, graph, text_reply())
    assert status == 400


async def test_graph_never_seen_user_is_not_window_checked(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    status, _, _ = await post_graph(http, graph, text_reply())
    assert status == 200


def human_agent(text: str = "Cán bộ trả lời") -> dict[str, Any]:
    return text_reply(text, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")


async def test_graph_human_agent_tag_allows_seven_days_on_configured_pages(
    graph: FakeGraphApi, http: aiohttp.ClientSession, clock: Clock
) -> None:
    graph.user_wrote(PSID, NOW - timedelta(days=7))
    status, _, _ = await post_graph(http, graph, human_agent())
    assert status == 200
    assert graph.sent[0].tag == "HUMAN_AGENT"
    clock.now = NOW + timedelta(seconds=1)
    status, body, _ = await post_graph(http, graph, human_agent())
    assert status == 400
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (10, 2018278)


async def test_graph_human_agent_tag_needs_the_feature(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    graph.user_wrote(PSID, NOW - timedelta(hours=30))
    status, body, _ = await post_graph(http, graph, human_agent(), token=OTHER_TOKEN)
    assert status == 400
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (10, 2018278)
    assert "Human Agent" in graph.rejected[0].reason


# Graph: injected failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "subcode"),
    [
        ("500", 500, 2, None),
        ("429", 429, 613, None),
        ("token_expired", 400, 190, 460),
        ("window", 400, 10, 2018278),
        ("user_unavailable", 400, 551, 1545041),
    ],
)
async def test_graph_queued_failures_then_recovery(
    graph: FakeGraphApi,
    http: aiohttp.ClientSession,
    kind: str,
    status: int,
    code: int,
    subcode: int | None,
) -> None:
    graph.fail_next(kind, times=2)
    assert graph.pending_failures == [kind, kind]
    for _ in range(2):
        got_status, body, headers = await post_graph(http, graph, text_reply())
        assert got_status == status
        assert body["error"]["code"] == code
        assert body["error"].get("error_subcode") == subcode
        assert body["error"]["fbtrace_id"]
    if kind == "429":
        assert headers["Retry-After"] == "2"
    assert [f.kind for f in graph.injected] == [kind, kind]
    assert len(graph.rejected) == 2 and graph.sent == []
    got_status, _, _ = await post_graph(http, graph, text_reply())
    assert got_status == 200
    assert graph.pending_failures == []


async def test_graph_timeout_hangs_until_the_client_gives_up(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    graph.fail_next("timeout")
    url = f"{graph.url}/v25.0/me/messages"
    timeout = aiohttp.ClientTimeout(total=0.2)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            url, params={"access_token": TOKEN}, json=text_reply(), timeout=timeout
        ):
            pass
    status, _, _ = await post_graph(http, graph, text_reply("sau"))
    assert status == 200
    assert graph.texts_to(PSID) == ["sau"]


async def test_graph_slow_request_is_still_delivered_after_its_delay(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    graph.fail_next("timeout", delay=0.3)
    url = f"{graph.url}/v25.0/me/messages"
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            url,
            params={"access_token": TOKEN},
            json=text_reply("chậm"),
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass
    for _ in range(50):
        if graph.sent:
            break
        await asyncio.sleep(0.05)
    assert graph.texts_to(PSID) == ["chậm"]


def test_graph_fail_next_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown failure kind"):
        FakeGraphApi({}).fail_next("rate_limit")


# Graph: config-check endpoints ------------------------------------------------------------------


async def test_graph_me_and_subscribed_apps(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    graph.subscribe(PAGE, "555", ["messages", "messaging_postbacks"])
    async with http.get(f"{graph.base_url}/me", params={"access_token": TOKEN}) as response:
        assert await response.json() == {"id": PAGE, "name": "Công đoàn cơ sở"}
    url = f"{graph.base_url}/{PAGE}/subscribed_apps"
    async with http.get(url, params={"access_token": TOKEN}) as response:
        data = (await response.json())["data"]
    assert [(app["id"], app["subscribed_fields"]) for app in data] == [
        ("555", ["messages", "messaging_postbacks"])
    ]
    async with http.get(url, params={"access_token": OTHER_TOKEN}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 190
    other = f"{graph.base_url}/{OTHER_PAGE}/subscribed_apps"
    async with http.get(other, params={"access_token": OTHER_TOKEN}) as response:
        assert await response.json() == {"data": []}


async def test_graph_unknown_version_is_rejected(
    graph: FakeGraphApi, http: aiohttp.ClientSession
) -> None:
    url = f"{graph.url}/v19.0/me/messages"
    async with http.post(url, params={"access_token": TOKEN}, json=text_reply()) as response:
        assert response.status == 400
    assert "v25.0" in graph.rejected[0].reason


# Zalo: sending ----------------------------------------------------------------------------------


async def test_zalo_accepts_a_text_message(zalo: FakeZaloApi, http: aiohttp.ClientSession) -> None:
    zalo.user_interacted(USER, NOW - timedelta(hours=48))
    reply = await post_zalo(http, zalo, zalo_text(quote_message_id="msg-abc"))
    assert reply["error"] == 0 and reply["message"] == "Success"
    data = reply["data"]
    assert data["user_id"] == USER
    assert data["quota"] == {"quota_type": "reply"}
    int(data["message_id"], 16)
    [sent] = zalo.sent
    assert (sent.oa_id, sent.user_id, sent.message_id, sent.time) == (
        OA,
        USER,
        data["message_id"],
        NOW,
    )
    assert zalo.texts_to(USER) == ["Chào bạn"]
    again = await post_zalo(http, zalo, zalo_text("x" * 2000))
    assert again["error"] == 0 and again["data"]["message_id"] != data["message_id"]


async def test_zalo_charges_between_48_hours_and_7_days_then_refuses(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, clock: Clock
) -> None:
    zalo.user_interacted(USER, NOW - timedelta(days=7))
    reply = await post_zalo(http, zalo, zalo_text())
    assert reply["data"]["quota"]["quota_type"] == "sub_quota"
    assert zalo.sent[0].quota_type == "sub_quota"
    clock.now = NOW + timedelta(seconds=1)
    reply = await post_zalo(http, zalo, zalo_text())
    assert reply["error"] == -230
    assert len(zalo.sent) == 1 and "7 days" in zalo.rejected[0].reason


async def test_zalo_accepts_a_button_template(
    zalo: FakeZaloApi, http: aiohttp.ClientSession
) -> None:
    buttons = [
        {"type": "oa.query.show", "title": "Hỏi về lương", "payload": "#luong"},
        {"type": "oa.query.hide", "title": "Gặp cán bộ", "payload": "#canbo"},
        {"type": "oa.open.url", "title": "Website", "payload": {"url": "https://congdoan.vn"}},
        {"type": "oa.open.phone", "title": "Gọi", "payload": {"phone_code": "0901234567"}},
        {
            "type": "oa.open.sms",
            "title": "SMS",
            "payload": {"content": "Hỏi", "phone_code": "0901234567"},
        },
    ]
    attachment = {"type": "template", "payload": {"template_type": "button", "buttons": buttons}}
    reply = await post_zalo(http, zalo, zalo_text(attachment=attachment))
    assert reply["error"] == 0


def with_buttons(*buttons: dict[str, Any]) -> dict[str, Any]:
    payload = {"template_type": "button", "buttons": list(buttons)}
    return zalo_text(attachment={"type": "template", "payload": payload})


BUTTON = {"type": "oa.query.show", "title": "Hỏi", "payload": "#hoi"}

INVALID_ZALO_BODIES = {
    "no recipient": {"message": {"text": "x"}},
    "user_id not digits": {"recipient": {"user_id": "abc"}, "message": {"text": "x"}},
    "user_id a number": {"recipient": {"user_id": 2468}, "message": {"text": "x"}},
    "messenger style recipient": {"recipient": {"id": USER}, "message": {"text": "x"}},
    "empty text": zalo_text(""),
    "text of 2001": zalo_text("x" * 2001),
    "unknown message field": zalo_text(quick_replies=[]),
    "empty quote id": zalo_text(quote_message_id=""),
    "six buttons": with_buttons(*[BUTTON] * 6),
    "bad button type": with_buttons({**BUTTON, "type": "oa.open.map"}),
    "empty button title": with_buttons({**BUTTON, "title": ""}),
    "url button without url": with_buttons({"type": "oa.open.url", "title": "W", "payload": "x"}),
    "media template": zalo_text(
        attachment={"type": "template", "payload": {"template_type": "media", "elements": []}}
    ),
    "extra top-level key": {**zalo_text(), "messaging_type": "RESPONSE"},
}


@pytest.mark.parametrize("case", INVALID_ZALO_BODIES)
async def test_zalo_rejects_invalid_bodies_with_201(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, case: str
) -> None:
    reply = await post_zalo(http, zalo, INVALID_ZALO_BODIES[case])
    assert reply == {"error": -201, "message": "Parameters are invalid"}
    assert zalo.sent == []
    [rejection] = zalo.rejected
    assert rejection.response == reply and rejection.reason


async def test_zalo_rejects_bearer_and_unknown_tokens_with_216(
    zalo: FakeZaloApi, http: aiohttp.ClientSession
) -> None:
    url = f"{zalo.url}/v3.0/oa/message/cs"
    bearer = {"Authorization": "Bearer zat-0"}
    async with http.post(url, json=zalo_text(), headers=bearer) as response:
        assert response.status == 200
        assert (await response.json())["error"] == -216
    assert "Authorization" in zalo.rejected[0].reason
    assert (await post_zalo(http, zalo, zalo_text(), token="wrong"))["error"] == -216
    assert zalo.sent == []


@pytest.mark.parametrize("code", [-216, -220])
async def test_zalo_expired_token_fails_until_refreshed(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, oa: ZaloOa, code: int
) -> None:
    zalo.expire_token(OA, code)
    assert (await post_zalo(http, zalo, zalo_text()))["error"] == code
    tokens = await refresh(http, zalo, "zrt-0")
    assert tokens["access_token"] == oa.access_token != "zat-0"
    assert (await post_zalo(http, zalo, zalo_text(), token="zat-0"))["error"] == code
    assert (await post_zalo(http, zalo, zalo_text(), token=oa.access_token))["error"] == 0


# Zalo: OAuth refresh ----------------------------------------------------------------------------


async def test_zalo_refresh_tokens_are_single_use(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, oa: ZaloOa
) -> None:
    first = await refresh(http, zalo, "zrt-0")
    assert set(first) == {"access_token", "refresh_token", "expires_in"}
    assert first["expires_in"] == "90000"
    assert (oa.access_token, oa.refresh_token) == (first["access_token"], first["refresh_token"])
    assert (await post_zalo(http, zalo, zalo_text(), token="zat-0"))["error"] == -216
    assert "replaced" in zalo.rejected[-1].reason
    assert (await post_zalo(http, zalo, zalo_text(), token=first["access_token"]))["error"] == 0

    reused = await refresh(http, zalo, "zrt-0")
    assert reused["error"] == -14014 and reused["error_name"] == "Invalid refresh token"
    assert "access_token" not in reused
    assert oa.refresh_token == first["refresh_token"]

    second = await refresh(http, zalo, first["refresh_token"])
    assert second["refresh_token"] not in ("zrt-0", first["refresh_token"])
    assert zalo.refresh_calls == [
        (APP, "zrt-0", True),
        (APP, "zrt-0", False),
        (APP, first["refresh_token"], True),
    ]
    assert zalo.refresh_calls[0] == RefreshCall(APP, "zrt-0", ok=True)


async def test_zalo_old_access_token_can_stay_valid(
    clock: Clock, oa: ZaloOa, http: aiohttp.ClientSession
) -> None:
    async with FakeZaloApi({OA: oa}, clock=clock, revoke_old_access_token=False) as zalo:
        await refresh(http, zalo, "zrt-0")
        assert (await post_zalo(http, zalo, zalo_text(), token="zat-0"))["error"] == 0


async def test_zalo_refresh_refuses_a_wrong_secret_or_app(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, oa: ZaloOa
) -> None:
    assert (await refresh(http, zalo, "zrt-0", secret="nope"))["error"] != 0
    assert (await refresh(http, zalo, "zrt-0", app_id="app-2"))["error"] != 0
    assert oa.refresh_token == "zrt-0"
    assert [call.ok for call in zalo.refresh_calls] == [False, False]
    assert "secret_key" in zalo.rejected[0].reason


async def test_zalo_refresh_must_be_form_encoded(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, oa: ZaloOa
) -> None:
    form = {"refresh_token": "zrt-0", "app_id": APP, "grant_type": "refresh_token"}
    url = f"{zalo.url}/v4/oa/access_token"
    async with http.post(url, json=form, headers={"secret_key": SECRET}) as response:
        assert (await response.json())["error"] != 0
    async with http.post(url, headers={"secret_key": SECRET}) as response:
        assert (await response.json())["error"] != 0
    code_grant = {**form, "grant_type": "authorization_code"}
    async with http.post(url, data=code_grant, headers={"secret_key": SECRET}) as response:
        assert (await response.json())["error"] != 0
    assert oa.refresh_token == "zrt-0"
    assert not any(call.ok for call in zalo.refresh_calls)


async def test_zalo_concurrent_refreshes_with_one_token_let_only_one_win(
    zalo: FakeZaloApi, http: aiohttp.ClientSession
) -> None:
    zalo.refresh_delay = 0.3
    results = await asyncio.gather(refresh(http, zalo, "zrt-0"), refresh(http, zalo, "zrt-0"))
    assert sorted("access_token" in result for result in results) == [False, True]
    assert sorted(call.ok for call in zalo.refresh_calls) == [False, True]


# Zalo: injected failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code"), [("rate_limit", -32), ("window", -230), ("token_expired", -216)]
)
async def test_zalo_queued_error_codes_then_recovery(
    zalo: FakeZaloApi, http: aiohttp.ClientSession, kind: str, code: int
) -> None:
    zalo.fail_next(kind, times=2)
    for _ in range(2):
        assert (await post_zalo(http, zalo, zalo_text()))["error"] == code
    assert (await post_zalo(http, zalo, zalo_text()))["error"] == 0
    assert [f.kind for f in zalo.injected] == [kind, kind]
    assert len(zalo.sent) == 1


async def test_zalo_queued_500_and_timeout(zalo: FakeZaloApi, http: aiohttp.ClientSession) -> None:
    zalo.fail_next("500")
    zalo.fail_next("timeout")
    url = f"{zalo.url}/v3.0/oa/message/cs"
    headers = {"access_token": "zat-0"}
    async with http.post(url, json=zalo_text(), headers=headers) as response:
        assert response.status == 500
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            url, json=zalo_text(), headers=headers, timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass
    assert (await post_zalo(http, zalo, zalo_text()))["error"] == 0
    assert zalo.pending_failures == []
    assert [r.status for r in zalo.rejected] == [500]

"""The Messenger sender against the fake Graph API (which validates every request)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.channels.accounts import FacebookPage
from bot.channels.base import OutboundMessage, SendError
from bot.channels.facebook.send import FacebookSender
from tests.fakes.graph_api import FakeGraphApi

PAGE = "1234567890"
PSID = "6912345678901234"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    fake = FakeGraphApi({PAGE: "page-token"}, clock=lambda: NOW, human_agent_pages={PAGE})
    async with fake:
        yield fake


def sender(http, graph: FakeGraphApi, *, human_agent: bool = True, timeout: float = 5.0):
    page = FacebookPage(PAGE, "secret", "page-token", human_agent=human_agent)
    return FacebookSender(
        http, graph_url=graph.base_url, pages={PAGE: page}, clock=lambda: NOW, timeout=timeout
    )


def reply(*, author: str = "bot", ago: dt.timedelta = dt.timedelta(minutes=5), **extra):
    return OutboundMessage(
        outbox_id=7,
        message_id=70,
        conversation_id=1,
        page_id=PAGE,
        user_id=PSID,
        author=author,
        text=extra.pop("text", "Lương tối thiểu vùng I là 5.310.000 đồng/tháng."),
        last_member_message_at=NOW - ago,
        **extra,
    )


async def test_a_reply_inside_the_window_goes_as_response_with_metadata(http, graph):
    graph.user_wrote(PSID, NOW - dt.timedelta(minutes=5))
    quick = (
        {"title": "Hữu ích", "payload": "/feedback_helpful"},
        {"title": "Một tiêu đề dài hơn hai mươi ký tự", "payload": "/request_human"},
    )
    message_id = await sender(http, graph).send(reply(quick_replies=quick))

    (sent,) = graph.sent
    assert message_id == sent.message_id
    assert sent.body["messaging_type"] == "RESPONSE" and "tag" not in sent.body
    assert sent.body["message"]["metadata"] == "outbox:7"
    titles = [q["title"] for q in sent.body["message"]["quick_replies"]]
    assert titles == ["Hữu ích", "Một tiêu đề dài hơn…"]
    assert all(len(title) <= 20 for title in titles)


async def test_staff_after_24_hours_use_human_agent_and_bots_are_refused(http, graph):
    graph.user_wrote(PSID, NOW - dt.timedelta(days=2))
    late = dt.timedelta(days=2)
    await sender(http, graph).send(reply(author="staff", ago=late))
    assert (graph.sent[0].messaging_type, graph.sent[0].tag) == ("MESSAGE_TAG", "HUMAN_AGENT")

    with pytest.raises(SendError) as bot:
        await sender(http, graph).send(reply(author="bot", ago=late))
    assert not bot.value.retryable and "24 giờ" in bot.value.reason

    with pytest.raises(SendError) as no_feature:
        await sender(http, graph, human_agent=False).send(reply(author="staff", ago=late))
    assert "Human Agent" in no_feature.value.reason

    with pytest.raises(SendError) as too_late:
        await sender(http, graph).send(reply(author="staff", ago=dt.timedelta(days=8)))
    assert "7 ngày" in too_late.value.reason
    assert len(graph.sent) == 1  # refusals never reach the platform


@pytest.mark.parametrize(
    ("kind", "retryable", "retry_after", "words"),
    [
        ("500", True, None, "máy chủ"),
        ("429", True, 2.0, "giới hạn"),
        ("token_expired", False, None, "190"),
        ("window", False, None, "khung thời gian"),
        ("user_unavailable", False, None, "551"),
    ],
)
async def test_platform_errors_are_classified(http, graph, kind, retryable, retry_after, words):
    graph.fail_next(kind)
    with pytest.raises(SendError) as raised:
        await sender(http, graph).send(reply())
    assert raised.value.retryable is retryable
    assert raised.value.retry_after == retry_after
    assert words in raised.value.reason


async def test_a_timeout_is_retryable(http, graph):
    graph.fail_next("timeout", delay=3.0)
    with pytest.raises(SendError) as raised:
        await sender(http, graph, timeout=0.5).send(reply())
    assert raised.value.retryable


async def test_typing_indicator_is_a_separate_sender_action(http, graph):
    await sender(http, graph).typing(PAGE, PSID)
    (action,) = graph.actions
    assert (action.psid, action.action, action.body) == (
        PSID,
        "typing_on",
        {"recipient": {"id": PSID}, "sender_action": "typing_on"},
    )
    graph.fail_next("500")
    await sender(http, graph).typing(PAGE, PSID)  # a failed indicator is not an error

"""Zalo tokens and sends against the fake Zalo server, with the token row in a real database
(SQLite and PostgreSQL): single-use refresh tokens are spent once even when workers race."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet

from bot.channels.accounts import ZaloOa as ZaloAccount
from bot.channels.base import OutboundMessage, SendError
from bot.channels.zalo.send import ZaloSender
from bot.channels.zalo.tokens import TokenError, ZaloTokens
from bot.db.models import ChannelToken
from bot.db.session import SessionFactory
from bot.lib.secretbox import SecretBox
from tests.fakes.zalo_api import FakeZaloApi, ZaloOa

OA_ID = "3662729599332560487"
APP_ID = "2553928453557884079"
APP_SECRET = "app-secret"
USER = "5012345678901234567"
BOX = SecretBox(Fernet.generate_key().decode())
ACCOUNT = ZaloAccount(OA_ID, APP_ID, APP_SECRET, "oa-secret", refresh_token="refresh-1")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZaloApi]:
    fake = FakeZaloApi({OA_ID: ZaloOa(APP_ID, APP_SECRET, "not-issued-yet", "refresh-1")})
    async with fake:
        yield fake


def tokens(sessions: SessionFactory, http, zalo: FakeZaloApi, owner: str) -> ZaloTokens:
    return ZaloTokens(
        sessions,
        http,
        oauth_url=zalo.url,
        oas={OA_ID: ACCOUNT},
        box=BOX,
        owner=owner,
        clock=utc_now,
    )


def sender(sessions: SessionFactory, http, zalo: FakeZaloApi, owner: str = "w1") -> ZaloSender:
    return ZaloSender(
        http,
        openapi_url=zalo.url,
        oas={OA_ID: ACCOUNT},
        tokens=tokens(sessions, http, zalo, owner),
        clock=utc_now,
    )


def reply(text: str = "Chào bạn", last_member: dt.timedelta = dt.timedelta(minutes=1)):
    return OutboundMessage(
        outbox_id=1,
        message_id=1,
        conversation_id=1,
        page_id=OA_ID,
        user_id=USER,
        author="bot",
        text=text,
        last_member_message_at=utc_now() - last_member,
    )


async def test_two_workers_racing_refresh_once_and_share_the_token(sessions, http, zalo):
    zalo.refresh_delay = 0.3  # both workers see the old token while the refresh is under way
    first, second = tokens(sessions, http, zalo, "w1"), tokens(sessions, http, zalo, "w2")

    got = await asyncio.gather(first.access_token(OA_ID), second.access_token(OA_ID))

    assert [(c.refresh_token, c.ok) for c in zalo.refresh_calls] == [("refresh-1", True)]
    assert got[0] == got[1] == zalo.oas[OA_ID].access_token
    async with sessions() as session:
        row = await session.get(ChannelToken, ("zalo", OA_ID))
    assert row.version == 1 and row.refreshing_owner is None
    assert BOX.open(row.refresh_token) == zalo.oas[OA_ID].refresh_token != "refresh-1"


async def test_an_expired_token_is_refreshed_once_even_when_two_sends_race(sessions, http, zalo):
    warm = tokens(sessions, http, zalo, "w0")
    await warm.access_token(OA_ID)
    zalo.expire_token(OA_ID)
    zalo.refresh_delay = 0.3
    one, two = sender(sessions, http, zalo, "w1"), sender(sessions, http, zalo, "w2")

    ids = await asyncio.gather(one.send(reply("một")), two.send(reply("hai")))

    assert len(set(ids)) == 2
    assert sorted(zalo.texts_to(USER)) == ["hai", "một"]
    assert [c.ok for c in zalo.refresh_calls] == [True, True]  # the first token, then one renewal


async def test_a_refused_refresh_is_recorded_and_not_retried(sessions, http, zalo):
    zalo.oas[OA_ID].refresh_token = "revoked-by-the-oa"  # our stored refresh token is dead

    with pytest.raises(SendError) as raised:
        await sender(sessions, http, zalo).send(reply())
    assert not raised.value.retryable
    assert "Zalo refused the token refresh" in raised.value.reason

    with pytest.raises(TokenError) as again:
        await tokens(sessions, http, zalo, "w2").access_token(OA_ID)
    assert again.value.permanent
    assert len(zalo.refresh_calls) == 1  # the second attempt did not call Zalo
    async with sessions() as session:
        row = await session.get(ChannelToken, ("zalo", OA_ID))
    assert row.failed_at is not None and "refused" in row.last_error


async def test_reconfiguring_the_refresh_token_starts_again(sessions, http, zalo):
    zalo.oas[OA_ID].refresh_token = "revoked"
    with pytest.raises(TokenError):
        await tokens(sessions, http, zalo, "w1").access_token(OA_ID)
    zalo.oas[OA_ID].refresh_token = "refresh-2"  # staff re-authorized the OA
    reauthorized = ZaloAccount(OA_ID, APP_ID, APP_SECRET, "oa-secret", "refresh-2")
    fresh = ZaloTokens(
        sessions,
        http,
        oauth_url=zalo.url,
        oas={OA_ID: reauthorized},
        box=BOX,
        owner="w1",
        clock=utc_now,
    )
    assert await fresh.access_token(OA_ID) == zalo.oas[OA_ID].access_token


async def test_zalo_errors_inside_http_200_are_errors(sessions, http, zalo):
    zalo.fail_next("window")
    with pytest.raises(SendError) as window:
        await sender(sessions, http, zalo).send(reply())
    assert not window.value.retryable and "-230" in window.value.reason

    zalo.fail_next("rate_limit")
    with pytest.raises(SendError) as limited:
        await sender(sessions, http, zalo).send(reply())
    assert limited.value.retryable and limited.value.retry_after == 60.0

    zalo.fail_next("500")
    with pytest.raises(SendError) as server:
        await sender(sessions, http, zalo).send(reply())
    assert server.value.retryable
    assert zalo.texts_to(USER) == []


async def test_past_seven_days_nothing_is_sent(sessions, http, zalo):
    with pytest.raises(SendError) as refused:
        await sender(sessions, http, zalo).send(reply(last_member=dt.timedelta(days=8)))
    assert not refused.value.retryable and "7 ngày" in refused.value.reason
    assert zalo.requests == []  # refused before any call (not even a token refresh)


async def test_the_keeper_renews_due_tokens_and_reports_a_dead_one_without_retrying(
    sessions, http, zalo, caplog
):
    keeper = tokens(sessions, http, zalo, "keeper")
    assert await keeper.keep_fresh() is False
    assert await keeper.keep_fresh() is False
    assert [c.ok for c in zalo.refresh_calls] == [True]  # the second pass found it valid

    async with sessions() as session, session.begin():
        row = await session.get(ChannelToken, ("zalo", OA_ID))
        row.expires_at = utc_now() + dt.timedelta(minutes=30)  # in its last hour
    zalo.oas[OA_ID].refresh_token = "revoked"
    await keeper.keep_fresh()
    await keeper.keep_fresh()
    assert [c.ok for c in zalo.refresh_calls] == [True, False]  # refused once, not again
    assert "no access token" in caplog.text

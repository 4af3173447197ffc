"""The only list of channels: name -> sender, built from the settings; a webhook body's events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.channels.accounts import Accounts
from bot.channels.base import ChannelSender, WebhookEvent
from bot.channels.facebook import CHANNEL as FACEBOOK
from bot.channels.facebook import parse as facebook_parse
from bot.channels.facebook.send import FacebookSender
from bot.channels.sandbox import CHANNEL as SANDBOX
from bot.channels.sandbox.send import SandboxSender
from bot.channels.zalo import CHANNEL as ZALO
from bot.channels.zalo import parse as zalo_parse
from bot.channels.zalo.send import ZaloSender
from bot.channels.zalo.tokens import ZaloTokens
from bot.db.session import SessionFactory
from bot.lib.secretbox import SecretBox
from bot.settings import Settings


def build_zalo_tokens(
    settings: Settings,
    sessions: SessionFactory,
    http: aiohttp.ClientSession,
    owner: str,
    clock: Callable[[], dt.datetime],
) -> ZaloTokens | None:
    """The Zalo token keeper, when OAs are configured."""
    if not settings.accounts.zalo:
        return None
    return ZaloTokens(
        sessions,
        http,
        oauth_url=settings.zalo_oauth_url,
        oas=settings.accounts.zalo,
        box=SecretBox(settings.token_encryption_key),
        owner=owner,
        clock=clock,
    )


def build_senders(
    settings: Settings,
    http: aiohttp.ClientSession,
    zalo_tokens: ZaloTokens | None,
    clock: Callable[[], dt.datetime],
) -> dict[str, ChannelSender]:
    """One sender per channel; Facebook and Zalo only when pages or OAs are configured."""
    senders: dict[str, ChannelSender] = {SANDBOX: SandboxSender()}
    accounts = settings.accounts
    if accounts.facebook:
        senders[FACEBOOK] = FacebookSender(
            http,
            graph_url=settings.facebook_graph_url,
            pages=accounts.facebook,
            clock=clock,
            timeout=settings.send_timeout_seconds,
        )
    if zalo_tokens is not None:
        senders[ZALO] = ZaloSender(
            http,
            openapi_url=settings.zalo_openapi_url,
            oas=accounts.zalo,
            tokens=zalo_tokens,
            clock=clock,
            timeout=settings.send_timeout_seconds,
        )
    return senders


def webhook_events(channel: str, body: Any, accounts: Accounts) -> list[WebhookEvent]:
    """The events of a webhook body (already checked as the platform's), for configured accounts.

    Raises InvalidPayload for a body the channel's parser refuses.
    """
    events = every_event(channel, body)
    if channel == FACEBOOK:
        return [e for e in events if e.page_id in accounts.facebook]
    return events


def every_event(channel: str, body: Any) -> list[WebhookEvent]:
    """The events of a webhook body, for any page or OA; InvalidPayload if it is refused."""
    if channel == FACEBOOK:
        return facebook_parse.parse_delivery(body)
    if channel == ZALO:
        return zalo_parse.parse_event(body)
    raise ValueError(f"no webhook for channel {channel}")

"""Facebook and Zalo webhooks: verify, store the delivery as it arrived, answer at once.

Expanding it into messages (``bot.workers.deliveries``) and the bot's turn happen later, so the
platforms get their 200 within milliseconds. Bad requests store nothing: 403 for a wrong
signature, verify token or unknown page, 400 for a body that is not the platform's JSON, 413
(from aiohttp) for an oversized body; 429 instead once the address has failed too often
(``bot.web.ratelimit``, never a signed delivery).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aiohttp import web

from bot.channels.base import Ignored, InvalidPayload, PageEcho, WebhookEvent
from bot.channels.facebook import CHANNEL as FACEBOOK
from bot.channels.facebook import parse as facebook_parse
from bot.channels.facebook import verify as facebook_verify
from bot.channels.registry import webhook_events
from bot.channels.zalo import CHANNEL as ZALO
from bot.channels.zalo import parse as zalo_parse
from bot.channels.zalo import verify as zalo_verify
from bot.recent_sends import RecentSends
from bot.web import keys
from bot.web.body import BadJson, parse_json
from bot.web.errors import json_error

log = logging.getLogger(__name__)

ZALO_MAX_AGE = dt.timedelta(hours=24)  # older signed bodies are replays (Zalo retries for ~1 h)


async def _store(request: web.Request, channel: str, raw: bytes, body: Any) -> str | None:
    """Store a signed body that holds events worth keeping; why not, if its events do not parse.

    The body is stored as it arrived and expanded right after (``bot.workers.deliveries``);
    one with nothing to record (read receipts, events we do not handle, echoes of our replies
    whose send is recorded) is not stored at all.
    """
    try:
        events = webhook_events(channel, body, request.app[keys.SETTINGS].accounts)
    except InvalidPayload as exc:
        return str(exc)
    recent = request.app[keys.RECENT_SENDS]
    if any(_worth_storing(event, recent) for event in events):
        await request.app[keys.INBOX].receive(channel, raw)
    return None


def _worth_storing(event: WebhookEvent, recent: RecentSends) -> bool:
    if isinstance(event, PageEcho):
        return not recent.covers(event)
    return not isinstance(event, Ignored)


def _json(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except BadJson:
        return None


async def facebook_handshake(request: web.Request) -> web.Response:
    """``GET``: answer Meta's subscription check with ``hub.challenge``."""
    accounts = request.app[keys.SETTINGS].accounts
    challenge = facebook_verify.handshake_challenge(request.query, accounts.facebook_verify_token)
    if challenge is None:
        log.warning("facebook webhook: verification refused (wrong token or mode)")
        return json_error(403, "verification failed")
    return web.Response(text=challenge)


async def facebook_events(request: web.Request) -> web.Response:
    """``POST``: a batch of Messenger events for one or more pages."""
    raw = await request.read()
    body = _json(raw)
    if body is None:
        return json_error(400, "body is not valid JSON")
    accounts = request.app[keys.SETTINGS].accounts
    try:
        page_ids = facebook_parse.page_ids(body)
    except InvalidPayload as exc:
        return json_error(400, str(exc))
    known = [accounts.facebook[p] for p in page_ids if p in accounts.facebook]
    unknown = [p for p in page_ids if p not in accounts.facebook]
    if unknown:
        log.warning("facebook webhook: events for unknown pages %s rejected", unknown)
    if not known:
        return json_error(403, "unknown page")
    header = request.headers.get("X-Hub-Signature-256")
    if not facebook_verify.signature_ok(raw, header, {page.app_secret for page in known}):
        log.warning("facebook webhook: bad signature for pages %s", page_ids)
        return json_error(403, "signature does not match")
    if (invalid := await _store(request, FACEBOOK, raw, body)) is not None:
        return json_error(400, invalid)
    return web.Response(text="EVENT_RECEIVED")


async def zalo_events(request: web.Request) -> web.Response:
    """``POST``: one Zalo OA event."""
    raw = await request.read()
    body = _json(raw)
    if not isinstance(body, dict):
        return json_error(400, "body is not a JSON object")
    try:
        oa_id = zalo_parse.account_id(body)
    except InvalidPayload as exc:
        return json_error(400, str(exc))
    oa = request.app[keys.SETTINGS].accounts.zalo.get(oa_id)
    if oa is None:
        log.warning("zalo webhook: event for unknown OA %s rejected", oa_id)
        return json_error(403, "unknown OA")
    header = request.headers.get("X-ZEvent-Signature")
    if not zalo_verify.signature_ok(raw, header, body, oa.oa_secret):
        log.warning("zalo webhook: bad signature for OA %s", oa_id)
        return json_error(403, "signature does not match")
    if not zalo_verify.timestamp_fresh(body, request.app[keys.CLOCK](), ZALO_MAX_AGE):
        log.warning("zalo webhook: stale or missing timestamp for OA %s", oa_id)
        return json_error(403, "timestamp is too old")
    if (invalid := await _store(request, ZALO, raw, body)) is not None:
        return json_error(400, invalid)
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    """Register the webhook endpoints."""
    app.router.add_get("/webhooks/facebook", facebook_handshake)
    app.router.add_post("/webhooks/facebook", facebook_events)
    app.router.add_post("/webhooks/zalo", zalo_events)

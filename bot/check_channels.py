"""Check every configured Facebook Page and Zalo OA; print what is wrong (`make check-channels`).

Facebook: the page token belongs to the page and the app is subscribed to the webhook fields the
gateway needs. Zalo: the token key opens the stored tokens and a valid access token can be had
(refreshing it if it is due, which stores the new single-use refresh token as usual).
Exit status 1 when anything is wrong.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
from dataclasses import dataclass

import aiohttp

from bot.channels.accounts import FacebookPage
from bot.channels.zalo.tokens import TokenError, ZaloTokens
from bot.db.migrate import upgrade
from bot.db.session import SessionFactory, create_engine, session_factory
from bot.lib.secretbox import SecretBox, SecretBoxError
from bot.settings import Settings

FACEBOOK_FIELDS = ("messages", "messaging_postbacks", "message_echoes")


@dataclass(frozen=True)
class Finding:
    """One check's outcome for one page or OA."""

    account: str
    ok: bool
    text: str


async def _get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, dict]:
    try:
        async with http.get(url, params={"access_token": token}) as response:
            body = await response.json(content_type=None)
            return response.status, body if isinstance(body, dict) else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return 0, {"error": {"message": repr(exc)}}


async def check_facebook_page(
    http: aiohttp.ClientSession, graph_url: str, page: FacebookPage
) -> list[Finding]:
    """Token owner and webhook subscription of one page."""
    name = f"facebook page {page.page_id}"
    status, me = await _get(http, f"{graph_url}/me", page.access_token)
    if status != 200:
        error = (me.get("error") or {}).get("message", f"HTTP {status}")
        return [Finding(name, False, f"page access token rejected: {error}")]
    if str(me.get("id")) != page.page_id:
        return [Finding(name, False, f"access token belongs to page {me.get('id')}")]
    findings = [Finding(name, True, f"token is the page's ({me.get('name', '')})")]
    status, apps = await _get(
        http, f"{graph_url}/{page.page_id}/subscribed_apps", page.access_token
    )
    subscribed = [a for a in apps.get("data", []) if isinstance(a, dict)]
    ours = [a for a in subscribed if not page.app_id or str(a.get("id")) == page.app_id]
    if status != 200 or not ours:
        findings.append(Finding(name, False, "the app is not subscribed to the page's webhooks"))
    else:
        fields = set(ours[0].get("subscribed_fields") or [])
        missing = [f for f in FACEBOOK_FIELDS if f not in fields]
        findings.append(
            Finding(name, not missing, f"webhook fields missing: {', '.join(missing)}")
            if missing
            else Finding(name, True, "subscribed to " + ", ".join(FACEBOOK_FIELDS))
        )
    if not page.app_id:
        findings.append(Finding(name, False, "APP_ID not set: own echoes are told by metadata"))
    if not page.human_agent:
        findings.append(Finding(name, True, "HUMAN_AGENT off: staff cannot reply after 24 hours"))
    return findings


async def check_zalo(
    settings: Settings, http: aiohttp.ClientSession, sessions: SessionFactory
) -> list[Finding]:
    """Tokens of every OA."""
    try:
        box = SecretBox(settings.token_encryption_key)
    except SecretBoxError as exc:
        return [Finding("zalo", False, str(exc))]
    tokens = ZaloTokens(
        sessions,
        http,
        oauth_url=settings.zalo_oauth_url,
        oas=settings.accounts.zalo,
        box=box,
        owner=f"check:{socket.gethostname()}:{os.getpid()}",
        clock=lambda: dt.datetime.now(dt.UTC),
    )
    findings = []
    for oa_id in settings.accounts.zalo:
        name = f"zalo oa {oa_id}"
        try:
            await tokens.access_token(oa_id)
        except (TokenError, SecretBoxError) as exc:
            reason = exc.reason if isinstance(exc, TokenError) else str(exc)
            findings.append(Finding(name, False, f"no access token: {reason}"))
        else:
            findings.append(Finding(name, True, "access token valid"))
    return findings


async def check(settings: Settings) -> list[Finding]:
    """Every finding for every configured page and OA."""
    accounts = settings.accounts
    if not accounts.facebook and not accounts.zalo:
        return [Finding("channels", False, "no FACEBOOK_PAGES or ZALO_OAS configured")]
    findings: list[Finding] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        for page in accounts.facebook.values():
            findings += await check_facebook_page(http, settings.facebook_graph_url, page)
        if accounts.zalo:
            engine = create_engine(settings.database_url)
            try:
                await upgrade(engine)
                findings += await check_zalo(settings, http, session_factory(engine))
            finally:
                await engine.dispose()
    return findings


def main() -> None:
    """Print the findings; exit 1 if any is a problem."""
    findings = asyncio.run(check(Settings.from_env()))
    for finding in findings:
        print(f"{'ok ' if finding.ok else 'BAD'}  {finding.account}: {finding.text}")
    sys.exit(0 if all(f.ok for f in findings) else 1)


if __name__ == "__main__":
    main()

"""Zalo OA access tokens: 25-hour access tokens renewed with single-use refresh tokens.

The refresh token is spent by every refresh, so two workers must never refresh with the same
one: a worker refreshes only after claiming the token row (``bot.ops.tokens``); the others wait
for the new version. A refresh that Zalo refuses is recorded and stops refreshing (staff must
re-authorize the OA); it is never retried in a loop. Tokens are encrypted in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.channels.accounts import ZaloOa
from bot.channels.zalo import CHANNEL
from bot.db.models import ChannelToken
from bot.db.session import SessionFactory
from bot.lib.secretbox import SecretBox
from bot.ops import tokens

log = logging.getLogger(__name__)

RENEW_BEFORE = dt.timedelta(hours=1)  # refresh an access token with less than this left
CLAIM_LEASE = dt.timedelta(seconds=30)
WAIT_FOR_OTHER = dt.timedelta(seconds=20)
POLL = 0.1


class TokenError(Exception):
    """No usable access token; ``permanent`` when the OA must be re-authorized."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class ZaloTokens:
    """Access tokens for every configured OA, shared safely between workers and processes."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        *,
        oauth_url: str,
        oas: Mapping[str, ZaloOa],
        box: SecretBox,
        owner: str,
        clock: Callable[[], dt.datetime],
        timeout: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._oauth_url = oauth_url.rstrip("/")
        self._oas = oas
        self._box = box
        self._owner = owner
        self._now = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def access_token(self, oa_id: str) -> str:
        """A valid access token for the OA, refreshed first when it is missing or ending."""
        row = await self._row(oa_id)
        token = self._box.open(row.access_token)
        if token and row.expires_at and row.expires_at - self._now() > RENEW_BEFORE:
            return token
        return await self.refresh(oa_id, stale=token or None)

    async def keep_fresh(self) -> bool:
        """Renew every OA's token that is due, so refresh tokens never lapse while an OA is quiet.

        Failures are logged (a refused refresh is not retried: see ``refresh``). Returns False:
        a periodic chore, never a queue to drain.
        """
        for oa_id in self._oas:
            try:
                await self.access_token(oa_id)
            except TokenError as exc:
                log.error("Zalo OA %s: no access token: %s", oa_id, exc.reason)
        return False

    async def refresh(self, oa_id: str, stale: str | None) -> str:
        """A new access token instead of ``stale`` (rejected by Zalo or ending).

        If another worker has already replaced ``stale``, its token is returned.
        """
        deadline = self._now() + WAIT_FOR_OTHER
        while True:
            row = await self._row(oa_id)
            if row.failed_at is not None:
                raise TokenError(f"refresh failed earlier: {row.last_error}", permanent=True)
            current = self._box.open(row.access_token)
            if current and current != stale and row.expires_at and row.expires_at > self._now():
                return current
            async with self._sessions() as session, session.begin():
                claimed = await tokens.do_claim_refresh(
                    session, CHANNEL, oa_id, row.version, self._owner, self._now(), CLAIM_LEASE
                )
            if claimed:
                return await self._refresh_claimed(self._oas[oa_id], row)
            if self._now() > deadline:
                raise TokenError("another worker is still refreshing the token", permanent=False)
            await asyncio.sleep(POLL)

    async def _row(self, oa_id: str) -> ChannelToken:
        oa = self._oas[oa_id]
        seed_hash = hashlib.sha256(oa.refresh_token.encode()).hexdigest()
        async with self._sessions() as session, session.begin():
            return await tokens.do_seed(
                session,
                CHANNEL,
                oa_id,
                self._box.seal(oa.refresh_token),
                seed_hash,
                self._now(),
            )

    async def _refresh_claimed(self, oa: ZaloOa, row: ChannelToken) -> str:
        try:
            body = await self._call_oauth(oa, self._box.open(row.refresh_token))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            await self._release(oa, f"token refresh did not complete: {exc!r}", permanent=False)
            raise TokenError(f"token refresh did not complete: {exc!r}", permanent=False) from exc
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            reason = f"Zalo refused the token refresh: {body}"
            log.error("Zalo OA %s: %s; the OA must be re-authorized", oa.oa_id, reason)
            await self._release(oa, reason, permanent=True)
            raise TokenError(reason, permanent=True)
        now = self._now()
        async with self._sessions() as session, session.begin():
            await tokens.do_store_refreshed(
                session,
                CHANNEL,
                oa.oa_id,
                self._owner,
                self._box.seal(access),
                self._box.seal(refresh),
                now + dt.timedelta(seconds=_seconds(body.get("expires_in"))),
                now,
            )
        log.info("Zalo OA %s: access token refreshed", oa.oa_id)
        return access

    async def _call_oauth(self, oa: ZaloOa, refresh_token: str) -> dict[str, Any]:
        async with self._http.post(
            f"{self._oauth_url}/v4/oa/access_token",
            headers={"secret_key": oa.app_secret},
            data={
                "refresh_token": refresh_token,
                "app_id": oa.app_id,
                "grant_type": "refresh_token",
            },
            timeout=self._timeout,
        ) as response:
            if response.status >= 500:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message="server error"
                )
            body = await response.json(content_type=None)
        return body if isinstance(body, dict) else {"unexpected": body}

    async def _release(self, oa: ZaloOa, reason: str, *, permanent: bool) -> None:
        async with self._sessions() as session, session.begin():
            await tokens.do_release_refresh(
                session, CHANNEL, oa.oa_id, self._owner, reason, self._now(), permanent=permanent
            )


def _seconds(value: object) -> float:
    """``expires_in`` comes as a string ("90000"); 25 hours when it is unreadable."""
    try:
        return float(str(value))
    except ValueError:
        return 90000.0

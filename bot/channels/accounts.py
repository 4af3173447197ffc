"""The Facebook Pages and Zalo OAs this deployment serves, with their secrets (environment).

One deployment can serve many pages and OAs (a federation and its unions). Each is listed by id
and configured by variables carrying that id, for example::

    FACEBOOK_VERIFY_TOKEN=...                 # the webhook's verify token (one per callback URL)
    FACEBOOK_PAGES=1234567890,2345678901
    FACEBOOK_PAGE_1234567890_APP_SECRET=...   # signs webhooks (X-Hub-Signature-256)
    FACEBOOK_PAGE_1234567890_ACCESS_TOKEN=... # page token for the Send API
    FACEBOOK_PAGE_1234567890_APP_ID=...       # our app: its echoes are our own sends
    FACEBOOK_PAGE_1234567890_HUMAN_AGENT=true # the app has Meta's Human Agent feature
    ZALO_OAS=3662729599332560487
    ZALO_OA_3662729599332560487_APP_ID=...
    ZALO_OA_3662729599332560487_APP_SECRET=...    # OAuth "secret_key" (token refresh)
    ZALO_OA_3662729599332560487_OA_SECRET=...     # webhook signature (X-ZEvent-Signature)
    ZALO_OA_3662729599332560487_REFRESH_TOKEN=... # first refresh token; later ones are stored

``..._NAME`` and ``..._REPLY_TARGET_HOURS`` are optional for both. Secrets never appear in
``repr`` (and so not in logs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ID_RE = re.compile(r"^[0-9]{1,32}$")
TRUE = {"1", "true", "yes", "on"}


class AccountConfigError(ValueError):
    """The environment describes a page or OA incompletely; the text says what is missing."""


@dataclass(frozen=True)
class FacebookPage:
    """A Facebook Page connected to the gateway."""

    page_id: str
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    app_id: str = ""
    human_agent: bool = False
    name: str = ""
    reply_target_hours: float | None = None


@dataclass(frozen=True)
class ZaloOa:
    """A Zalo Official Account connected to the gateway."""

    oa_id: str
    app_id: str
    app_secret: str = field(repr=False)
    oa_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    name: str = ""
    reply_target_hours: float | None = None


@dataclass(frozen=True)
class Accounts:
    """Every configured page and OA, by id."""

    facebook_verify_token: str = field(default="", repr=False)
    facebook: Mapping[str, FacebookPage] = field(default_factory=dict)
    zalo: Mapping[str, ZaloOa] = field(default_factory=dict)

    def reply_target_hours(self, channel: str, page_id: str) -> float | None:
        """The page's own reply target, if it sets one."""
        account = (self.facebook if channel == "facebook" else self.zalo).get(page_id)
        return account.reply_target_hours if account else None


def _ids(env: Mapping[str, str], name: str) -> list[str]:
    ids = [part.strip() for part in (env.get(name) or "").split(",") if part.strip()]
    for account_id in ids:
        if not ID_RE.match(account_id):
            raise AccountConfigError(f"{name}: {account_id!r} is not a numeric id")
    return ids


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise AccountConfigError(f"{name} is not set")
    return value


def _hours(env: Mapping[str, str], name: str) -> float | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    try:
        hours = float(value)
    except ValueError as exc:
        raise AccountConfigError(f"{name}: {value!r} is not a number of hours") from exc
    if hours <= 0:
        raise AccountConfigError(f"{name} must be positive")
    return hours


def accounts_from_env(env: Mapping[str, str]) -> Accounts:
    """Read every page and OA listed in ``FACEBOOK_PAGES`` and ``ZALO_OAS``."""
    pages = {}
    for page_id in _ids(env, "FACEBOOK_PAGES"):
        prefix = f"FACEBOOK_PAGE_{page_id}_"
        pages[page_id] = FacebookPage(
            page_id=page_id,
            app_secret=_required(env, prefix + "APP_SECRET"),
            access_token=_required(env, prefix + "ACCESS_TOKEN"),
            app_id=(env.get(prefix + "APP_ID") or "").strip(),
            human_agent=(env.get(prefix + "HUMAN_AGENT") or "").strip().lower() in TRUE,
            name=(env.get(prefix + "NAME") or "").strip(),
            reply_target_hours=_hours(env, prefix + "REPLY_TARGET_HOURS"),
        )
    verify_token = (env.get("FACEBOOK_VERIFY_TOKEN") or "").strip()
    if pages and not verify_token:
        raise AccountConfigError("FACEBOOK_VERIFY_TOKEN is not set")
    oas = {}
    for oa_id in _ids(env, "ZALO_OAS"):
        prefix = f"ZALO_OA_{oa_id}_"
        oas[oa_id] = ZaloOa(
            oa_id=oa_id,
            app_id=_required(env, prefix + "APP_ID"),
            app_secret=_required(env, prefix + "APP_SECRET"),
            oa_secret=_required(env, prefix + "OA_SECRET"),
            refresh_token=_required(env, prefix + "REFRESH_TOKEN"),
            name=(env.get(prefix + "NAME") or "").strip(),
            reply_target_hours=_hours(env, prefix + "REPLY_TARGET_HOURS"),
        )
    return Accounts(facebook_verify_token=verify_token, facebook=pages, zalo=oas)

"""Typed keys for what ``create_app`` puts on the application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.db.session import SessionFactory
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.inbox import Inbox
    from bot.recent_sends import RecentSends
    from bot.workers.loop import Wakeup

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", SessionFactory)
INBOX: web.AppKey[Inbox] = web.AppKey("inbox")
RECENT_SENDS: web.AppKey[RecentSends] = web.AppKey("recent_sends")
OUTBOX_WAKEUP: web.AppKey[Wakeup] = web.AppKey("outbox_wakeup")
CLOCK: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("clock")

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

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", SessionFactory)
INBOX: web.AppKey[Inbox] = web.AppKey("inbox")
CLOCK: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("clock")

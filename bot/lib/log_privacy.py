"""Logs without members' identities or the deployment's secrets.

Our own log calls name conversations, messages and jobs by their internal ids and never pass a
member's text or name. As defence in depth, :class:`PrivacyFilter` sits on every handler of the
gateway (``python -m bot``) and of the action server (installed when the ``actions`` package is
imported) and rewrites each record before it is written:

- configured secret values (app secrets, page tokens, verify token, Zalo secrets, the
  encryption key, passwords in database URLs, the SMTP password, the alert webhook URL)
  become ``[secret]``, also in their URL-encoded forms;
- e-mail addresses become ``[email]``;
- phone numbers (``0912 345 678``, ``+84 912.345.678``) become ``[phone]``;
- runs of 9 or more digits (Facebook PSIDs, Zalo user ids, unformatted phone numbers) become
  ``[id]``, except the ids of our own pages, OAs and apps, which are public.

The message, its arguments, the exception text, the stack and any extra string attributes are
all masked. Libraries that log statement parameters or result rows (SQLAlchemy, aiosqlite) are
held at WARNING whatever ``LOG_LEVEL`` says.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import Settings

MIN_SECRET_LENGTH = 4
QUIET_LOGGERS = ("sqlalchemy", "aiosqlite")

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w+])(?:\+\d(?:[ .-]?\d){7,14}|0(?:[ .-]?\d){8,10})(?!\d)")
DIGITS = re.compile(r"(?<!\d)\d{9,}(?!\d)")

# attributes every LogRecord has; anything else came in through ``extra=`` and is masked too
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class Masker:
    """Replaces secrets, e-mail addresses, phone numbers and long ids in a text."""

    def __init__(self, secrets: Iterable[str] = (), keep: Iterable[str] = ()) -> None:
        """``secrets``: values never to show; ``keep``: digit ids that may be shown."""
        variants = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                variants |= {secret, quote(secret, safe=""), quote_plus(secret)}
        self._secrets = sorted(variants, key=len, reverse=True)
        self._keep = frozenset(keep)

    def __call__(self, text: str) -> str:
        """``text`` with everything private replaced by a placeholder."""
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        text = EMAIL.sub("[email]", text)
        text = PHONE.sub("[phone]", text)
        return DIGITS.sub(self._digits, text)

    def _digits(self, match: re.Match[str]) -> str:
        return match.group() if match.group() in self._keep else "[id]"


class PrivacyFilter(logging.Filter):
    """A handler filter that masks every record it lets through (it drops none)."""

    _exceptions = logging.Formatter()

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; always True."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logged anyway, masked
            message = f"{record.msg} {record.args}"
        record.msg = self.masker(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker(record.stack_info)
        for name, value in vars(record).items():
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, self.masker(value))
        return True


def _url_password(url: str) -> list[str]:
    try:
        password = make_url(url).password if url else None
    except ArgumentError:
        return []
    return [str(password)] if password else []


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold."""
    accounts = settings.accounts
    found = [
        accounts.facebook_verify_token,
        settings.token_encryption_key,
        settings.smtp_password,
        settings.alert_webhook_url,
        *_url_password(settings.database_url),
        *_url_password(settings.rasa_tracker_db_url),
    ]
    for page in accounts.facebook.values():
        found += [page.app_secret, page.access_token]
    for oa in accounts.zalo.values():
        found += [oa.app_secret, oa.oa_secret, oa.refresh_token]
    return [value for value in found if value]


def public_ids(settings: Settings) -> list[str]:
    """Ids of our own pages, OAs and apps: shown in logs, they identify no member."""
    accounts = settings.accounts
    ids = [page_id for page_id in accounts.facebook]
    ids += [page.app_id for page in accounts.facebook.values() if page.app_id]
    for oa in accounts.zalo.values():
        ids += [oa.oa_id, oa.app_id]
    return ids


def install(masker: Masker) -> PrivacyFilter:
    """Put one filter on every handler that exists now, and quiet the libraries that log data.

    Covers the root logger's handlers, those of every logger created so far and Python's
    last-resort handler (used when no handler is configured, e.g. in Sanic's worker process).
    Installing again replaces the previous filter.
    """
    privacy = PrivacyFilter(masker)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    handlers = [h for logger in loggers for h in logger.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, PrivacyFilter)]:
            handler.removeFilter(old)
        handler.addFilter(privacy)
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    return privacy


def install_for(settings: Settings) -> PrivacyFilter:
    """:func:`install` with the secrets and public ids of ``settings``."""
    return install(Masker(secret_values(settings), public_ids(settings)))

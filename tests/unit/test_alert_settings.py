"""Deadline-warning settings: thresholds, and which delivery targets are configured."""

from __future__ import annotations

import aiohttp

from bot.app import build_notifiers
from bot.notify.send import EmailNotifier, WebhookNotifier
from bot.settings import Settings


def test_thresholds_and_recipients_are_read():
    settings = Settings.from_env(
        {
            "WARN_BEFORE_HOURS": "12, 6,2",
            "WINDOW_WARN_HOURS": "3",
            "ALERT_EMAIL_TO": "lan@cd.vn, minh@cd.vn",
            "SMTP_PASSWORD": "hidden",
        }
    )
    assert settings.warn_before_hours == (12.0, 6.0, 2.0)
    assert settings.window_warn_hours == 3.0
    assert settings.alert_email_to == ("lan@cd.vn", "minh@cd.vn")
    assert "hidden" not in repr(settings)
    assert Settings.from_env({}).warn_before_hours == (6.0, 2.0)


async def test_notifiers_exist_only_for_configured_targets():
    async with aiohttp.ClientSession() as http:
        assert build_notifiers(Settings.from_env({}), http) == {}
        only_host = Settings.from_env({"SMTP_HOST": "mail"})  # no recipients: no e-mail
        assert build_notifiers(only_host, http) == {}
        both = Settings.from_env(
            {"SMTP_HOST": "mail", "ALERT_EMAIL_TO": "a@b", "ALERT_WEBHOOK_URL": "http://x/y"}
        )
        notifiers = build_notifiers(both, http)
    assert isinstance(notifiers["email"], EmailNotifier)
    assert isinstance(notifiers["webhook"], WebhookNotifier)

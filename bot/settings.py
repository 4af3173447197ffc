"""Typed settings from the environment; a ``.env`` file in the working directory is read first."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

from bot.channels.accounts import Accounts, accounts_from_env

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/bot.db"
RETENTION_MODES = ("anonymise", "delete")


def _items(value: str) -> list[str]:
    """The comma-separated items of ``value``, stripped, empty ones dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _retention_days(value: str) -> int:
    """``RETENTION_DAYS``: whole days, 0 to keep everything."""
    days = int(value)
    if days < 0:
        raise ValueError("RETENTION_DAYS must be 0 (keep forever) or a number of days")
    return days


def _retention_mode(value: str) -> str:
    """``RETENTION_MODE``: ``anonymise`` or ``delete``."""
    mode = value.strip().lower()
    if mode not in RETENTION_MODES:
        raise ValueError(f"RETENTION_MODE must be one of {', '.join(RETENTION_MODES)}")
    return mode


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment (see .env.example)."""

    database_url: str = DEFAULT_DATABASE_URL
    rasa_url: str = "http://127.0.0.1:5005"
    host: str = "127.0.0.1"
    port: int = 8080
    faq_dir: Path = Path("nlu_data/faq")
    sandbox_page_id: str = "sandbox"
    reply_target_hours: float = 24.0
    rasa_timeout_seconds: float = 30.0
    rasa_escalate_after_seconds: float = 600.0
    worker_poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    accounts: Accounts = field(default_factory=Accounts)
    facebook_graph_url: str = "https://graph.facebook.com/v25.0"
    zalo_openapi_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    send_timeout_seconds: float = 20.0
    send_retry_hours: float = 24.0
    token_encryption_key: str = field(default="", repr=False)
    console_secure_cookies: bool = False
    rate_limits: bool = True
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_login_ip: str = "10/minute"
    rate_limit_login_user: str = "20/hour"
    rate_limit_console: str = "1200/minute"
    rate_limit_sandbox: str = "30/minute"
    rate_limit_sandbox_poll: str = "600/minute"
    rate_limit_webhook: str = "6000/minute"
    rate_limit_webhook_rejected: str = "10/minute"
    warn_before_hours: tuple[float, ...] = (6.0, 2.0)
    window_warn_hours: float = 2.0
    deadline_sweep_seconds: float = 60.0
    alert_webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    alert_email_from: str = "bot@localhost"
    alert_email_to: tuple[str, ...] = ()
    retention_days: int = 365
    retention_mode: str = "anonymise"
    rasa_tracker_db_url: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ`` after loading ``.env``)."""
        if env is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            env = os.environ
        default = cls()

        def get(name: str, fallback: object) -> str:
            return env.get(name) or str(fallback)

        return cls(
            database_url=get("DATABASE_URL", default.database_url),
            rasa_url=get("RASA_URL", default.rasa_url).rstrip("/"),
            host=get("GATEWAY_HOST", default.host),
            port=int(get("GATEWAY_PORT", default.port)),
            faq_dir=Path(get("FAQ_DIR", default.faq_dir)),
            sandbox_page_id=get("SANDBOX_PAGE_ID", default.sandbox_page_id),
            reply_target_hours=float(get("REPLY_TARGET_HOURS", default.reply_target_hours)),
            rasa_timeout_seconds=float(get("RASA_TIMEOUT_SECONDS", default.rasa_timeout_seconds)),
            rasa_escalate_after_seconds=float(
                get("RASA_ESCALATE_AFTER_SECONDS", default.rasa_escalate_after_seconds)
            ),
            worker_poll_seconds=float(get("WORKER_POLL_SECONDS", default.worker_poll_seconds)),
            lease_seconds=float(get("LEASE_SECONDS", default.lease_seconds)),
            max_body_bytes=int(get("MAX_BODY_BYTES", default.max_body_bytes)),
            log_level=get("LOG_LEVEL", default.log_level).upper(),
            accounts=accounts_from_env(env),
            facebook_graph_url=get("FACEBOOK_GRAPH_URL", default.facebook_graph_url).rstrip("/"),
            zalo_openapi_url=get("ZALO_OPENAPI_URL", default.zalo_openapi_url).rstrip("/"),
            zalo_oauth_url=get("ZALO_OAUTH_URL", default.zalo_oauth_url).rstrip("/"),
            send_timeout_seconds=float(get("SEND_TIMEOUT_SECONDS", default.send_timeout_seconds)),
            send_retry_hours=float(get("SEND_RETRY_HOURS", default.send_retry_hours)),
            token_encryption_key=env.get("TOKEN_ENCRYPTION_KEY") or "",
            console_secure_cookies=(env.get("CONSOLE_SECURE_COOKIES") or "").lower()
            in {"1", "true", "yes"},
            rate_limits=(env.get("RATE_LIMITS") or "on").lower()
            not in {"0", "false", "no", "off"},
            trusted_proxies=tuple(_items(env.get("TRUSTED_PROXIES") or "")),
            rate_limit_login_ip=get("RATE_LIMIT_LOGIN_IP", default.rate_limit_login_ip),
            rate_limit_login_user=get("RATE_LIMIT_LOGIN_USER", default.rate_limit_login_user),
            rate_limit_console=get("RATE_LIMIT_CONSOLE", default.rate_limit_console),
            rate_limit_sandbox=get("RATE_LIMIT_SANDBOX", default.rate_limit_sandbox),
            rate_limit_sandbox_poll=get(
                "RATE_LIMIT_SANDBOX_POLL", default.rate_limit_sandbox_poll
            ),
            rate_limit_webhook=get("RATE_LIMIT_WEBHOOK", default.rate_limit_webhook),
            rate_limit_webhook_rejected=get(
                "RATE_LIMIT_WEBHOOK_REJECTED", default.rate_limit_webhook_rejected
            ),
            warn_before_hours=tuple(
                float(h) for h in _items(get("WARN_BEFORE_HOURS", "6,2")) if float(h) > 0
            ),
            window_warn_hours=float(get("WINDOW_WARN_HOURS", default.window_warn_hours)),
            deadline_sweep_seconds=float(
                get("DEADLINE_SWEEP_SECONDS", default.deadline_sweep_seconds)
            ),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL") or "",
            smtp_host=env.get("SMTP_HOST") or "",
            smtp_port=int(get("SMTP_PORT", default.smtp_port)),
            smtp_user=env.get("SMTP_USER") or "",
            smtp_password=env.get("SMTP_PASSWORD") or "",
            smtp_starttls=(env.get("SMTP_STARTTLS") or "").lower() in {"1", "true", "yes"},
            alert_email_from=get("ALERT_EMAIL_FROM", default.alert_email_from),
            alert_email_to=tuple(_items(env.get("ALERT_EMAIL_TO") or "")),
            retention_days=_retention_days(get("RETENTION_DAYS", default.retention_days)),
            retention_mode=_retention_mode(get("RETENTION_MODE", default.retention_mode)),
            rasa_tracker_db_url=env.get("RASA_TRACKER_DB_URL") or "",
        )

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """The Rasa replicas: ``RASA_URL`` may list several, comma-separated."""
        return tuple(_items(self.rasa_url))

    def reply_target(self, channel: str, page_id: str) -> dt.timedelta:
        """Time to answer a question on this page (its own target or the default)."""
        hours = self.accounts.reply_target_hours(channel, page_id) or self.reply_target_hours
        return dt.timedelta(hours=hours)

"""Typed settings from the environment; a ``.env`` file in the working directory is read first."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/bot.db"


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
        )

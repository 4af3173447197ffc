"""The log filter: what it masks, what it keeps, and where it is installed."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import pytest

from bot.lib import log_privacy
from bot.lib.log_privacy import Masker, PrivacyFilter
from bot.settings import Settings
from tools.paths import ROOT

PAGE, OA, APP_ID, OA_APP = "1234567890123", "3662729599332560487", "1111111111", "2553928453557"
ENV = {
    "DATABASE_URL": "postgresql+asyncpg://bot:db-pass-w0rd@127.0.0.1/bot",
    "RASA_TRACKER_DB_URL": "postgresql://bot:tracker-pass@127.0.0.1/rasa_tracker",
    "FACEBOOK_VERIFY_TOKEN": "verify token/+&",
    "FACEBOOK_PAGES": PAGE,
    f"FACEBOOK_PAGE_{PAGE}_APP_SECRET": "fb-app-secret",
    f"FACEBOOK_PAGE_{PAGE}_ACCESS_TOKEN": "EAAGpagetoken",
    f"FACEBOOK_PAGE_{PAGE}_APP_ID": APP_ID,
    "ZALO_OAS": OA,
    f"ZALO_OA_{OA}_APP_ID": OA_APP,
    f"ZALO_OA_{OA}_APP_SECRET": "zalo-app-secret",
    f"ZALO_OA_{OA}_OA_SECRET": "zalo-oa-secret",
    f"ZALO_OA_{OA}_REFRESH_TOKEN": "zalo-refresh",
    "TOKEN_ENCRYPTION_KEY": "fernet-key-value",
    "SMTP_PASSWORD": "smtp-pass",
    "ALERT_WEBHOOK_URL": "https://hooks.example.org/T000/B000/XXXX",
}
SECRETS = [
    "db-pass-w0rd",
    "tracker-pass",
    "verify token/+&",
    "fb-app-secret",
    "EAAGpagetoken",
    "zalo-app-secret",
    "zalo-oa-secret",
    "zalo-refresh",
    "fernet-key-value",
    "smtp-pass",
    "https://hooks.example.org/T000/B000/XXXX",
]


@pytest.fixture
def masker() -> Masker:
    settings = Settings.from_env(ENV)
    return Masker(log_privacy.secret_values(settings), log_privacy.public_ids(settings))


def test_every_configured_secret_is_known_to_the_filter():
    assert sorted(log_privacy.secret_values(Settings.from_env(ENV))) == sorted(SECRETS)


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_masked_also_url_encoded(masker, secret):
    from urllib.parse import quote, quote_plus

    for form in (secret, quote(secret, safe=""), quote_plus(secret)):
        masked = masker(f"GET /webhooks/facebook?hub.verify_token={form}&x=1 failed")
        assert form not in masked
        assert "[secret]" in masked


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("sender 6912345678901234 wrote", "6912345678901234"),  # Facebook PSID
        ("zalo user 6142494823190184727", "6142494823190184727"),  # Zalo user id
        ("gọi 0912345678 nhé", "0912345678"),
        ("gọi 0912 345 678 nhé", "0912 345 678"),
        ("gọi 0912.345.678 nhé", "0912.345.678"),
        ("gọi 091-234-5678 nhé", "091-234-5678"),
        ("gọi +84 912 345 678 nhé", "+84 912 345 678"),
        ("gọi 024 3825 1234 (cơ quan)", "024 3825 1234"),
        ("mail hoa.nguyen+cd@example.com.vn đi", "hoa.nguyen+cd@example.com.vn"),
        ("{'recipient_id': '6912345678901234'}", "6912345678901234"),
    ],
)
def test_member_identifiers_are_masked(masker, text, hidden):
    masked = masker(text)
    assert hidden not in masked
    assert "[" in masked and masked != text


def test_our_own_ids_times_and_small_numbers_stay_readable(masker):
    line = (
        f"2026-11-22 04:52:16,123 facebook webhook: unknown pages ['{PAGE}'] app {APP_ID} "
        f"OA {OA} app {OA_APP}; outbox 1234: attempt 3 in 0.5 s from 127.0.0.1:8080"
    )
    assert masker(line) == line


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


def formatted(privacy: PrivacyFilter, made: logging.LogRecord) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(request)s"))
    handler.addFilter(privacy)
    handler.handle(made)
    return stream.getvalue()


def test_the_filter_masks_arguments_exceptions_stacks_and_extras(masker):
    privacy = PrivacyFilter(masker)
    try:
        raise ValueError("bad reply for 6912345678901234 from fb-app-secret")
    except ValueError:
        made = record(
            "send to %s failed (%s)",
            "6912345678901234",
            "hoa@example.com",
            request="GET /x?hub.verify_token=verify+token%2F%2B%26",
        )
        made.exc_info = sys.exc_info()
    made.stack_info = "Stack (most recent call last): user 6142494823190184727"
    text = formatted(privacy, made)
    for hidden in (
        "6912345678901234",
        "hoa@example.com",
        "fb-app-secret",
        "verify+token",
        "6142494823190184727",
    ):
        assert hidden not in text
    assert "send to [id] failed ([email])" in text
    assert "ValueError: bad reply for [id] from [secret]" in text
    assert "[secret]" in text.splitlines()[0]
    # masking twice (a record going through two handlers) changes nothing more
    assert formatted(privacy, made) == text


def test_install_covers_existing_handlers_and_the_last_resort_and_quiets_data_loggers():
    code = """
import io, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(message)s")
own = logging.getLogger("sanic.error")
own.propagate = False
own.addHandler(logging.StreamHandler(sys.stdout))
from bot.lib import log_privacy
log_privacy.install(log_privacy.Masker(["s3cr3t-value"]))
logging.getLogger("bot.x").warning("member 6912345678901234 s3cr3t-value")
own.error("handler of its own: hoa@example.com")
logging.getLogger().handlers.clear()
logging.getLogger("bot.y").error("last resort: 0912 345 678")
print("levels", logging.getLogger("sqlalchemy.engine.Engine").getEffectiveLevel(),
      logging.getLogger("aiosqlite").getEffectiveLevel())
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    out = done.stdout + done.stderr
    assert "bot.x member [id] [secret]" in out
    assert "handler of its own: [email]" in out
    assert "last resort: [phone]" in out
    assert f"levels {logging.WARNING} {logging.WARNING}" in out
    for hidden in ("6912345678901234", "s3cr3t-value", "hoa@example.com", "0912 345 678"):
        assert hidden not in out


def test_importing_the_actions_package_installs_the_filter():
    code = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
import actions
logging.getLogger("rasa_sdk.executor").warning("tracker of 6912345678901234, key fernet-key-x")
"""
    env = {"PATH": "/usr/bin:/bin", "TOKEN_ENCRYPTION_KEY": "fernet-key-x"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "tracker of [id], key [secret]"


def test_a_call_whose_arguments_do_not_fit_is_still_logged_masked(masker):
    made = record("outbox %d for %s", "x", "6912345678901234", request="-")
    assert formatted(PrivacyFilter(masker), made) == "WARNING outbox %d for %s ('x', '[id]') -\n"

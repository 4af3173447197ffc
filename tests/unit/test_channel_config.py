"""Pages and OAs from the environment, secrets kept out of logs, long replies split, windows."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet

from bot.channels.accounts import AccountConfigError, accounts_from_env
from bot.channels.facebook import window as facebook_window
from bot.channels.zalo import window as zalo_window
from bot.lib.secretbox import SecretBox, SecretBoxError
from bot.lib.text_split import split_text
from bot.settings import Settings

ENV = {
    "FACEBOOK_VERIFY_TOKEN": "vt",
    "FACEBOOK_PAGES": "111, 222",
    "FACEBOOK_PAGE_111_APP_SECRET": "s1",
    "FACEBOOK_PAGE_111_ACCESS_TOKEN": "t1",
    "FACEBOOK_PAGE_111_HUMAN_AGENT": "true",
    "FACEBOOK_PAGE_111_REPLY_TARGET_HOURS": "12",
    "FACEBOOK_PAGE_222_APP_SECRET": "s2",
    "FACEBOOK_PAGE_222_ACCESS_TOKEN": "t2",
    "ZALO_OAS": "333",
    "ZALO_OA_333_APP_ID": "a3",
    "ZALO_OA_333_APP_SECRET": "as3",
    "ZALO_OA_333_OA_SECRET": "os3",
    "ZALO_OA_333_REFRESH_TOKEN": "r3",
}


def test_every_page_and_oa_has_its_own_secrets_and_target():
    settings = Settings.from_env(ENV)
    pages, oas = settings.accounts.facebook, settings.accounts.zalo
    assert (pages["111"].app_secret, pages["222"].access_token, oas["333"].oa_secret) == (
        "s1",
        "t2",
        "os3",
    )
    assert (pages["111"].human_agent, pages["222"].human_agent) == (True, False)
    assert settings.reply_target("facebook", "111") == dt.timedelta(hours=12)
    assert settings.reply_target("facebook", "222") == dt.timedelta(hours=24)
    assert settings.reply_target("zalo", "333") == dt.timedelta(hours=24)


def test_secrets_never_appear_in_repr():
    settings = Settings.from_env(ENV)
    text = repr(settings)
    assert "111" in text
    for secret in ("vt", "s1", "t1", "s2", "t2", "as3", "os3", "r3"):
        assert f"'{secret}'" not in text


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"FACEBOOK_PAGE_222_ACCESS_TOKEN": ""}, "FACEBOOK_PAGE_222_ACCESS_TOKEN"),
        ({"FACEBOOK_VERIFY_TOKEN": ""}, "FACEBOOK_VERIFY_TOKEN"),
        ({"ZALO_OA_333_OA_SECRET": ""}, "ZALO_OA_333_OA_SECRET"),
        ({"FACEBOOK_PAGES": "111,abc"}, "'abc' is not a numeric id"),
        ({"FACEBOOK_PAGE_111_REPLY_TARGET_HOURS": "soon"}, "not a number"),
    ],
)
def test_incomplete_configuration_names_what_is_missing(change, missing):
    with pytest.raises(AccountConfigError, match=missing):
        accounts_from_env({**ENV, **change})


def test_no_pages_configured_is_fine():
    accounts = accounts_from_env({})
    assert (dict(accounts.facebook), dict(accounts.zalo)) == ({}, {})


def test_secret_box_round_trip_and_wrong_key():
    box = SecretBox(Fernet.generate_key().decode())
    sealed = box.seal("refresh-token-1")
    assert "refresh-token-1" not in sealed and box.open(sealed) == "refresh-token-1"
    with pytest.raises(SecretBoxError):
        SecretBox(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(SecretBoxError):
        SecretBox("not a key")


def test_split_text_cuts_at_paragraphs_then_sentences_then_words():
    assert split_text("ngắn", 40) == ["ngắn"]
    text = "Câu một ngắn. Câu hai dài hơn một chút nữa.\n\nĐoạn hai."
    parts = split_text(text, 30)
    assert parts == ["Câu một ngắn.", "Câu hai dài hơn một chút nữa.", "Đoạn hai."]
    assert split_text("x" * 65, 30) == ["x" * 30, "x" * 30, "x" * 5]
    words = split_text("chữ " * 50, 30)
    assert all(len(p) <= 30 for p in words) and " ".join(words).split() == ["chữ"] * 50


NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("author", "hours", "human_agent", "expected"),
    [
        ("bot", 23.9, False, ("RESPONSE", None)),
        ("staff", 24, False, ("RESPONSE", None)),
        ("staff", 25, True, ("MESSAGE_TAG", "HUMAN_AGENT")),
        ("staff", 7 * 24, True, ("MESSAGE_TAG", "HUMAN_AGENT")),
        ("staff", 7 * 24 + 1, True, "7 ngày"),
        ("staff", 25, False, "Human Agent"),
        ("bot", 25, True, "tin tự động"),
        ("system", 25, True, "tin tự động"),
    ],
)
def test_messenger_window(author, hours, human_agent, expected):
    got = facebook_window.permit(
        author=author,
        last_member_at=NOW - dt.timedelta(hours=hours),
        now=NOW,
        human_agent=human_agent,
    )
    if isinstance(expected, tuple):
        assert (got.messaging_type, got.tag) == expected
    else:
        assert isinstance(got, facebook_window.Refusal) and expected in got.reason


@pytest.mark.parametrize(
    ("hours", "expected"), [(47, False), (49, True), (7 * 24, True), (7 * 24 + 1, None)]
)
def test_zalo_window(hours, expected):
    got = zalo_window.permit(last_member_at=NOW - dt.timedelta(hours=hours), now=NOW)
    if expected is None:
        assert isinstance(got, zalo_window.Refusal) and "7 ngày" in got.reason
    else:
        assert got == zalo_window.Permit(billed=expected)

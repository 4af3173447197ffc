import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from bot.channels.zalo.verify import signature_ok, timestamp_fresh

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
OA_SECRET = "Qx7pLm2vT9sKd4RfYb1N"
APP_SECRET = "Hc83JdKq0WnZrV5tUe6G"
SENT_AT = dt.datetime(2025, 5, 15, 9, 27, 10, 145000, tzinfo=dt.UTC)  # user_send_text.json
SKEW = dt.timedelta(minutes=5)


def raw(name: str = "user_send_text") -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def mac(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """The documented formula, written out independently of the code under test."""
    return hashlib.sha256(f"{app_id}{body.decode()}{timestamp}{secret}".encode()).hexdigest()


def signed(body: bytes = b"", secret: str = OA_SECRET) -> str:
    body = body or raw()
    return "mac=" + mac("2553928453557884079", body, "1747301230145", secret)


def test_good_signature():
    assert signature_ok(raw(), signed(), json.loads(raw()), OA_SECRET)


def test_digest_without_the_mac_prefix():
    digest = signed().removeprefix("mac=")
    assert signature_ok(raw(), digest, json.loads(raw()), OA_SECRET)


@pytest.mark.parametrize("prefix", ["MAC=", "Mac=", " mac= ", "mac = "])
def test_prefix_is_case_insensitive_and_spaces_are_stripped(prefix: str):
    header = prefix + signed().removeprefix("mac=") + " "
    assert signature_ok(raw(), header, json.loads(raw()), OA_SECRET)


def test_uppercase_hex_matches():
    assert signature_ok(raw(), "mac=" + signed()[4:].upper(), json.loads(raw()), OA_SECRET)


def test_every_fixture_verifies_with_its_own_fields():
    for path in sorted(FIXTURES.glob("*.json")):
        body = path.read_bytes()
        parsed = json.loads(body)
        header = "mac=" + mac(str(parsed["app_id"]), body, str(parsed["timestamp"]), OA_SECRET)
        assert signature_ok(body, header, parsed, OA_SECRET), path.name


def test_numeric_app_id_and_timestamp_are_signed_as_their_digits():
    body = raw("numeric_ids")
    header = "mac=" + mac("2553928453557884079", body, "1747301700000", OA_SECRET)
    assert signature_ok(body, header, json.loads(body), OA_SECRET)


def test_camel_case_timestamp_is_accepted():
    body = raw().replace(b'"timestamp"', b'"timeStamp"')
    header = "mac=" + mac("2553928453557884079", body, "1747301230145", OA_SECRET)
    assert signature_ok(body, header, json.loads(body), OA_SECRET)


def test_forged_digest_fails():
    forged = "mac=" + hashlib.sha256(raw()).hexdigest()
    assert not signature_ok(raw(), forged, json.loads(raw()), OA_SECRET)


def test_hmac_variant_fails():
    digest = hmac.new(OA_SECRET.encode(), raw(), hashlib.sha256).hexdigest()
    assert not signature_ok(raw(), f"mac={digest}", json.loads(raw()), OA_SECRET)


@pytest.mark.parametrize("header", [None, "", "mac=", "   ", "mac=xyz", "mac=ãbc"])
def test_missing_or_malformed_header_fails(header: str | None):
    assert not signature_ok(raw(), header, json.loads(raw()), OA_SECRET)


def test_non_ascii_header_of_the_right_length_fails_without_raising():
    header = "mac=" + "đ" * 64
    assert not signature_ok(raw(), header, json.loads(raw()), OA_SECRET)


def test_app_secret_instead_of_oa_secret_fails():
    header = signed(secret=APP_SECRET)
    assert signature_ok(raw(), header, json.loads(raw()), APP_SECRET)  # sanity: same formula
    assert not signature_ok(raw(), header, json.loads(raw()), OA_SECRET)


def test_empty_secret_never_matches():
    header = signed(secret="")
    assert not signature_ok(raw(), header, json.loads(raw()), "")


def test_body_changed_by_one_byte_fails():
    tampered = raw().replace(b"bhxh", b"bhxH")
    assert tampered != raw()
    assert not signature_ok(tampered, signed(), json.loads(tampered), OA_SECRET)


def test_timestamp_changed_fails():
    body: dict[str, Any] = json.loads(raw())
    body["timestamp"] = "1747301230146"
    assert not signature_ok(raw(), signed(), body, OA_SECRET)


@pytest.mark.parametrize("stand_in", ["", "None", "null"])
def test_missing_app_id_or_timestamp_fails(stand_in: str):
    # however the code might spell a missing field, a body without it is never accepted
    without_app = json.loads(raw())
    del without_app["app_id"]
    header = "mac=" + mac(stand_in, raw(), "1747301230145", OA_SECRET)
    assert not signature_ok(raw(), header, without_app, OA_SECRET)
    without_time = json.loads(raw())
    del without_time["timestamp"]
    header = "mac=" + mac("2553928453557884079", raw(), stand_in, OA_SECRET)
    assert not signature_ok(raw(), header, without_time, OA_SECRET)


def body_at(timestamp: Any) -> dict[str, Any]:
    return {"event_name": "user_send_text", "timestamp": timestamp}


@pytest.mark.parametrize(
    "now",
    [
        SENT_AT,
        SENT_AT + dt.timedelta(minutes=4),
        SENT_AT - dt.timedelta(minutes=4),
        SENT_AT + SKEW,
    ],
)
def test_timestamp_within_skew_is_fresh(now: dt.datetime):
    assert timestamp_fresh(json.loads(raw()), now, SKEW)


@pytest.mark.parametrize(
    "now",
    [
        SENT_AT + SKEW + dt.timedelta(milliseconds=1),
        SENT_AT - dt.timedelta(minutes=6),
        SENT_AT + dt.timedelta(days=1),
    ],
)
def test_timestamp_outside_skew_is_stale(now: dt.datetime):
    assert not timestamp_fresh(json.loads(raw()), now, SKEW)


def test_numeric_and_camel_case_timestamps_are_read():
    assert timestamp_fresh(body_at(1747301230145), SENT_AT, SKEW)
    assert timestamp_fresh({"timeStamp": "1747301230145"}, SENT_AT, SKEW)


@pytest.mark.parametrize("timestamp", [None, "", "hôm nay", "1747301230.145", True, [1]])
def test_unparsable_timestamp_is_not_fresh(timestamp: Any):
    assert not timestamp_fresh(body_at(timestamp), SENT_AT, dt.timedelta(days=365 * 100))

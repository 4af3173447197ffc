import hashlib
import hmac
import json
from pathlib import Path

import pytest

from bot.channels.facebook.verify import handshake_challenge, signature_ok

RAW = (Path(__file__).resolve().parents[1] / "fixtures" / "facebook" / "text.json").read_bytes()
SECRET = "3f1c9e2a7b5d4c6e8f0a1b2c3d4e5f60"
OLD_SECRET = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
TOKEN = "cong-doan-verify-7Qp2x"


def sign(raw: bytes, secret: str, algorithm=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), raw, algorithm).hexdigest()


GOOD = f"sha256={sign(RAW, SECRET)}"


# --- signature ------------------------------------------------------------------------------


def test_signature_over_the_raw_body_is_accepted():
    assert b"\\u01b0" in RAW  # the fixture is escaped the way Meta serializes it
    assert signature_ok(RAW, GOOD, [SECRET])


def test_uppercase_hex_is_accepted():
    assert signature_ok(RAW, f"sha256={sign(RAW, SECRET).upper()}", [SECRET])


def test_forged_signature_is_rejected():
    forged = sign(RAW, SECRET)
    forged = forged[:-1] + ("0" if forged[-1] != "0" else "1")
    assert not signature_ok(RAW, f"sha256={forged}", [SECRET])


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha256"])
def test_missing_signature_is_rejected(header):
    assert not signature_ok(RAW, header, [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        sign(RAW, SECRET),  # no prefix
        f"SHA256={sign(RAW, SECRET)}",
        f"sha1={sign(RAW, SECRET)}",
        f" sha256={sign(RAW, SECRET)}",
        f"sha256:{sign(RAW, SECRET)}",
    ],
)
def test_wrong_prefix_is_rejected(header):
    assert not signature_ok(RAW, header, [SECRET])


@pytest.mark.parametrize(
    "digest",
    [
        "z" * 64,
        sign(RAW, SECRET)[:-2] + "  ",
        sign(RAW, SECRET) + "\n",
        sign(RAW, SECRET) + "00",
        sign(RAW, SECRET)[:-2],
        "é" * 64,
    ],
)
def test_malformed_digest_is_rejected(digest):
    assert not signature_ok(RAW, f"sha256={digest}", [SECRET])


def test_legacy_sha1_signature_is_not_accepted():
    sha1 = sign(RAW, SECRET, hashlib.sha1)
    assert not signature_ok(RAW, f"sha1={sha1}", [SECRET])
    assert not signature_ok(RAW, f"sha256={sha1}", [SECRET])


def test_signature_made_with_another_secret_is_rejected():
    assert not signature_ok(RAW, f"sha256={sign(RAW, 'another-app-secret')}", [SECRET])


def test_any_of_several_secrets_is_accepted_during_a_rotation():
    old = f"sha256={sign(RAW, OLD_SECRET)}"
    assert signature_ok(RAW, old, [SECRET, OLD_SECRET])
    assert signature_ok(RAW, GOOD, (OLD_SECRET, SECRET))
    assert signature_ok(RAW, GOOD, {SECRET})
    assert not signature_ok(RAW, old, [SECRET])


def test_no_secret_or_an_empty_secret_accepts_nothing():
    assert not signature_ok(RAW, GOOD, [])
    assert not signature_ok(RAW, f"sha256={sign(RAW, '')}", [""])


def test_body_changed_by_one_byte_is_rejected():
    changed = RAW.replace(b"ng 1 l", b"ng 2 l")
    assert changed != RAW and len(changed) == len(RAW)
    assert not signature_ok(changed, GOOD, [SECRET])
    assert not signature_ok(RAW + b"\n", GOOD, [SECRET])


def test_reserialized_json_is_not_what_meta_signed():
    reserialized = json.dumps(json.loads(RAW), ensure_ascii=False).encode()
    assert not signature_ok(reserialized, GOOD, [SECRET])


# --- handshake ------------------------------------------------------------------------------


def query(mode: str = "subscribe", token: str = TOKEN, challenge: str = "1158201444"):
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}


def test_handshake_echoes_the_challenge():
    assert handshake_challenge(query(), TOKEN) == "1158201444"


@pytest.mark.parametrize("token", ["meatyhamhock", "", TOKEN + "x", TOKEN.upper(), "tôken"])
def test_handshake_with_a_wrong_token_is_refused(token):
    assert handshake_challenge(query(token=token), TOKEN) is None


def test_handshake_without_a_token_is_refused():
    params = query()
    del params["hub.verify_token"]
    assert handshake_challenge(params, TOKEN) is None


@pytest.mark.parametrize("mode", ["unsubscribe", "", "Subscribe"])
def test_handshake_with_a_wrong_mode_is_refused(mode):
    assert handshake_challenge(query(mode=mode), TOKEN) is None


def test_handshake_without_a_mode_is_refused():
    params = query()
    del params["hub.mode"]
    assert handshake_challenge(params, TOKEN) is None


def test_handshake_without_a_challenge_is_refused():
    params = query()
    del params["hub.challenge"]
    assert handshake_challenge(params, TOKEN) is None
    assert handshake_challenge(query(challenge=""), TOKEN) is None


def test_an_empty_configured_token_never_matches():
    assert handshake_challenge(query(token=""), "") is None
    assert handshake_challenge(query(), "") is None

"""Hostile input for the webhook parsers and verifiers: whatever the body, a parser returns
events or raises ``InvalidPayload`` (a 400), and a verifier answers True or False; nothing else
escapes. Property-based with Hypothesis, derandomized so every run checks the same cases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.base import InvalidPayload
from bot.channels.facebook import parse as facebook_parse
from bot.channels.facebook import verify as facebook_verify
from bot.channels.sandbox.parse import InvalidSandboxMessage, parse_message
from bot.channels.zalo import parse as zalo_parse
from bot.channels.zalo import verify as zalo_verify
from bot.web.body import _clean, parse_json

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
ids = st.one_of(st.text(max_size=25), st.integers(), st.none(), st.floats(), st.lists(scalars))


def facebook_like(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies close to Messenger's shape, with wrong types and missing fields mixed in."""
    event = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "sender": st.fixed_dictionaries({}, optional={"id": ids}) | json_values,
                "recipient": st.fixed_dictionaries({}, optional={"id": ids}) | json_values,
                "timestamp": scalars,
                "message": st.fixed_dictionaries(
                    {},
                    optional={
                        "mid": ids,
                        "text": scalars,
                        "is_echo": scalars,
                        "quick_reply": json_values,
                        "attachments": json_values,
                        "metadata": scalars,
                        "app_id": ids,
                    },
                )
                | json_values,
                "postback": json_values,
                "read": json_values,
            },
        )
    )
    entry = {"id": draw(ids), "time": draw(scalars), "messaging": [event]}
    return {"object": draw(st.sampled_from(["page", "user", 5])), "entry": [entry]}


def zalo_like(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies close to Zalo's shape, with wrong types and missing fields mixed in."""
    return draw(
        st.fixed_dictionaries(
            {
                "event_name": st.sampled_from(
                    ["user_send_text", "user_send_image", "follow", "oa_send_text", "x", 3]
                )
            },
            optional={
                "app_id": ids,
                "oa_id": ids,
                "timestamp": scalars,
                "sender": st.fixed_dictionaries({}, optional={"id": ids}) | json_values,
                "recipient": st.fixed_dictionaries({}, optional={"id": ids}) | json_values,
                "follower": json_values,
                "message": st.fixed_dictionaries(
                    {},
                    optional={"msg_id": ids, "text": scalars, "attachments": json_values},
                )
                | json_values,
            },
        )
    )


@FUZZ
@given(json_values | st.composite(facebook_like)())
def test_facebook_parser_returns_events_or_invalid_payload(body):
    try:
        events = facebook_parse.parse_delivery(body)
        pages = facebook_parse.page_ids(body)
    except InvalidPayload:
        return
    assert isinstance(events, list) and all(isinstance(p, str) for p in pages)


@FUZZ
@given(json_values | st.composite(zalo_like)())
def test_zalo_parser_returns_events_or_invalid_payload(body):
    try:
        events = zalo_parse.parse_event(body)
        account = zalo_parse.account_id(body)
    except InvalidPayload:
        return
    assert isinstance(events, list) and isinstance(account, str)


@FUZZ
@given(json_values)
def test_sandbox_parser_accepts_or_explains(body):
    try:
        parse_message(body, "sandbox")
    except InvalidSandboxMessage as exc:
        assert str(exc)


@FUZZ
@given(st.binary(max_size=300), st.one_of(st.none(), st.text(max_size=80)))
def test_signature_checks_answer_true_or_false(raw, header):
    assert facebook_verify.signature_ok(raw, header, {"secret"}) in (True, False)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = {}
    if isinstance(body, dict):
        assert zalo_verify.signature_ok(raw, header, body, "secret") in (True, False)


any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None))
odd_values = st.recursive(
    st.none() | st.integers() | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *strings_in(item)]]
    return []


@FUZZ
@given(odd_values, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32-le"]))
def test_bodies_come_back_storable_whichever_way_they_were_written(value, ascii, encoding):
    """NULs and lone surrogates, escaped or raw, in any JSON encoding: parse_json returns
    every string storable, as the full walk over the body would (its fast path included)."""
    raw = json.dumps(value, ensure_ascii=ascii).encode(encoding, "surrogatepass")
    parsed = parse_json(raw)
    for text in strings_in(parsed):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate left
    assert parsed == _clean(json.loads(raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'"\xed\xa0\x80"', "?"),  # a lone surrogate's raw UTF-8 bytes (decoded surrogatepass)
        (b'"\\uDBFF!"', "?!"),  # an escape in upper case
        (b'\xef\xbb\xbf"\\u0000x"', "x"),  # a byte order mark, then a NUL
        (b'{"\\u0000k": "v"}', {"k": "v"}),  # a NUL in a key
        (b'"a\\\\u0000"', "a\\u0000"),  # an escaped backslash: no NUL at all
        (b'"vi\\u1ec7t \\ud83d\\ude00"', "vi\u1ec7t \U0001f600"),  # a well-formed pair stays
    ],
)
def test_bodies_that_a_shortcut_could_get_wrong_are_cleaned(raw, expected):
    assert parse_json(raw) == expected

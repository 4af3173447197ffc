import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import Ignored, InboundMessage, InvalidPayload, PageEcho
from bot.channels.facebook.parse import page_ids, parse_delivery

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "facebook"
PAGE = "1234567890"
MEMBER_A = "6912345678901234"
MEMBER_B = "7023456789012345"
MEMBER_C = "7134567890123456"
STICKER_URL = (
    "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png"
    "?_nc_cat=1&ccb=1-7&_nc_sid=ac3552&_nc_ohc=Qm3xVb7yT1AQ7kNvgE5&_nc_ht=scontent.xx"
    "&oh=00_AYBx4Jk2Lm9Pq&oe=6676A1B2"
)
LAW_URL = (
    "https://thuvienphapluat.vn/van-ban/Lao-dong-Tien-luong/"
    "Nghi-dinh-74-2024-ND-CP-muc-luong-toi-thieu-doi-voi-nguoi-lao-dong-614149.aspx"
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def utc(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{iso}+00:00")


def member_event(**event: Any) -> dict[str, Any]:
    """A delivery with one messaging event from member A, for inline variants."""
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE,
                "time": 1718611200512,
                "messaging": [
                    {
                        "sender": {"id": MEMBER_A},
                        "recipient": {"id": PAGE},
                        "timestamp": 1718611200187,
                        **event,
                    }
                ],
            }
        ],
    }


def only(body: Any) -> Any:
    events = parse_delivery(body)
    assert len(events) == 1
    return events[0]


# --- member messages ------------------------------------------------------------------------


def test_text_message():
    assert parse_delivery(load("text")) == [
        InboundMessage(
            channel="facebook",
            page_id=PAGE,
            user_id=MEMBER_A,
            platform_message_id=(
                "m_AbC123xYz-9KqLmN0pQrStUvWxYz1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ0aBcDeFgHiJk"
                "LmNoPqRsT"
            ),
            text="lương tối thiểu vùng 1 là bao nhiêu",
            platform_ts=utc("2024-06-17T08:00:00.187"),
        )
    ]


def test_quick_reply_carries_its_payload():
    assert only(load("quick_reply")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_Qr7TkX2vLp9sWn4YcB1dE6fGhJ8kMzA3oP5qRsTuVwXyZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ1a2B3c4D5e6"
            "F7g8"
        ),
        text="Lương tối thiểu",
        platform_ts=utc("2024-06-17T08:01:02.467"),
        payload="CHU_DE_LUONG",
    )


def test_postback_uses_its_mid_title_and_payload():
    assert only(load("postback")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_Pb4HsN8wQe2RtY6uIo0pAs3DfG7hJk1LzX5cVbN9mQwErTyUiOpAsDfGhJkLzXcVbNmQwErTyUiOp1a2B3c4"
        ),
        text="Bắt đầu",
        platform_ts=utc("2024-06-17T08:01:40.998"),
        payload="GET_STARTED",
    )


def test_postback_without_mid_gets_an_id_stable_across_redeliveries():
    expected = InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=f"postback:{MEMBER_A}:1718611500000",
        text="Hỏi về bảo hiểm xã hội",
        platform_ts=utc("2024-06-17T08:05:00"),
        payload="CHU_DE_BHXH",
    )
    assert only(load("postback_no_mid")) == expected
    assert only(load("postback_no_mid")) == expected


def test_postback_without_mid_or_timestamp_is_ignored():
    body = member_event(postback={"title": "Bắt đầu", "payload": "GET_STARTED"})
    del body["entry"][0]["messaging"][0]["timestamp"]
    assert only(body) == Ignored("facebook", PAGE, "postback_without_mid")


def test_postback_without_title_or_payload_has_empty_text_and_no_payload():
    event = only(member_event(postback={"mid": "m_pb1", "payload": ""}))
    assert (event.text, event.payload) == ("", None)


def test_dashboard_test_accepts_a_timestamp_in_seconds_as_a_string():
    assert only(load("dashboard_test")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_Dt7TeS6tW5eB4hO3oK2dA1sH0bO9aR8dT7eS6tW5eB4hO3oK2dA1sH0bO9aR8dT7eS6tW5eB4hO3oK2dA1"
            "sH0b"
        ),
        text="Hỏi đáp",
        platform_ts=utc("2018-05-27T22:23:44"),
        payload="MENU_HOI_DAP",
    )


# --- attachments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "user_id", "mid", "ts", "attachment"),
    [
        (
            "image",
            MEMBER_A,
            "m_Im9GkL3pQr7StU1vWx5YzA0bCd4EfG8hIj2KlM6nOp9QrS3tUv7WxY1zAb5CdE9fGh3IjK7lMn1OpQ5rSt9UvW",
            "2024-06-17T08:03:22.519",
            {
                "type": "image",
                "url": (
                    "https://scontent.xx.fbcdn.net/v/t1.15752-9/"
                    "448123456_1234567890123456_1234567890123456789_n.jpg?_nc_cat=105&ccb=1-7"
                    "&_nc_sid=fc17b8&_nc_ohc=Z8bR4yT2xQkQ7kNvgH1&_nc_ht=scontent.xx"
                    "&oh=03_Q7cD1QHk2Lm9PqRs&oe=66A1B2C3"
                ),
            },
        ),
        (
            "file",
            MEMBER_B,
            "m_Fl2AbC3dEf4GhI5jKl6MnO7pQr8StU9vWx0YzA1bCd2EfG3hIj4KlM5nOp6QrS7tUv8WxY9zAb0CdE1fGh2IjK",
            "2024-06-17T08:04:15.133",
            {
                "type": "file",
                "url": (
                    "https://cdn.fbsbx.com/v/t59.2708-21/"
                    "448765432_1234567890123456_1234567890123456789_n.pdf/hop-dong-lao-dong.pdf"
                    "?_nc_cat=100&ccb=1-7&_nc_sid=2c5d6f&_nc_ohc=K3vW8pZ1nQkQ7kNvgF2"
                    "&_nc_ht=cdn.fbsbx.com&oh=03_Q7cD1QFm4Np8QrSt&oe=6672C9E1&dl=1"
                ),
            },
        ),
        (
            "audio",
            MEMBER_C,
            "m_Au8ZyX7wVu6TsR5qPo4NmL3kJi2HgF1eDc0BaZ9yXw8VuT7sRq6PoN5mLk4JiH3gFe2DcB1aZy0XwV9uTs8RqP",
            "2024-06-17T08:05:12.706",
            {
                "type": "audio",
                "url": (
                    "https://cdn.fbsbx.com/v/t59.3654-21/"
                    "448999999_1234567890123456_1234567890123456789_n.mp4/"
                    "audioclip-1718611508000-5231.mp4?_nc_cat=104&ccb=1-7&_nc_sid=d61c36"
                    "&_nc_ohc=Vb5nT8cQ2wkQ7kNvgJ4&_nc_ht=cdn.fbsbx.com&oh=03_Q7cD1QGp6Rs2TuVw"
                    "&oe=6672D0A4"
                ),
            },
        ),
    ],
)
def test_media_attachment(name, user_id, mid, ts, attachment):
    assert only(load(name)) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=user_id,
        platform_message_id=mid,
        text="",
        platform_ts=utc(ts),
        attachments=(attachment,),
    )


def test_sticker_during_the_transition_is_one_sticker_without_the_image_copy():
    assert only(load("sticker_transition")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_St5KjH4gFd3SaP2oIu1YtR0eWq9LkJ8hGf7DsA6pOi5UyT4rEw3QaZ2xSc1VbN0mLk9JhG8fDs7AaP6oIu5Yt"
        ),
        text="",
        platform_ts=utc("2024-06-17T08:07:00.021"),
        attachments=({"type": "sticker", "url": STICKER_URL, "sticker_id": "369239263222822"},),
    )


def test_sticker_id_may_come_from_the_message():
    body = load("sticker_transition")
    message = body["entry"][0]["messaging"][0]["message"]
    for attachment in message["attachments"]:
        del attachment["payload"]["sticker_id"]
    assert only(body).attachments == (
        {"type": "sticker", "url": STICKER_URL, "sticker_id": "369239263222822"},
    )


def test_an_image_with_another_url_is_kept_beside_a_sticker():
    body = load("sticker_transition")
    attachments = body["entry"][0]["messaging"][0]["message"]["attachments"]
    attachments[1]["payload"]["url"] = "https://scontent.xx.fbcdn.net/v/other.jpg"
    assert [a["type"] for a in only(body).attachments] == ["sticker", "image"]


def test_location_gives_float_coordinates():
    assert only(load("location")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_B,
        platform_message_id=(
            "m_Lc1QaZ2wSx3EdC4rFv5TgB6yHn7UjM8iKl9OpL0kMn1JbH2gVf3CdX4sZa5QwE6rTy7UiO8pAs9DfG0hJk1Lz"
        ),
        text="",
        platform_ts=utc("2024-06-17T08:08:22.874"),
        attachments=({"type": "location", "lat": 21.028511, "long": 105.804817},),
    )


def test_location_with_integer_or_missing_coordinates():
    attachments = [
        {"type": "location", "payload": {"coordinates": {"lat": 21, "long": "105.8"}}},
        {"type": "location", "payload": None},
    ]
    event = only(member_event(message={"mid": "m_loc", "attachments": attachments}))
    assert event.attachments == ({"type": "location", "lat": 21.0}, {"type": "location"})
    assert isinstance(event.attachments[0]["lat"], float)


def test_shared_link_arrives_as_a_fallback_attachment_beside_the_text():
    assert only(load("fallback_link")) == InboundMessage(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_C,
        platform_message_id=(
            "m_Fb6XcV5bN4mQ3wE2rT1yU0iO9pA8sD7fG6hJ5kL4zX3cV2bN1mQ0wE9rT8yU7iO6pA5sD4fG3hJ2kL1zX0cV9b"
        ),
        text=LAW_URL,
        platform_ts=utc("2024-06-17T08:10:05.412"),
        attachments=(
            {
                "type": "fallback",
                "url": LAW_URL,
                "title": "Nghị định 74/2024/NĐ-CP mức lương tối thiểu đối với người lao động",
            },
        ),
    )


def test_fallback_in_the_old_format_and_without_anything():
    attachments = [
        {"type": "fallback", "title": "Trang", "url": "https://example.vn/a", "payload": None},
        {"type": "fallback", "title": None},
    ]
    event = only(member_event(message={"mid": "m_fb", "attachments": attachments}))
    assert event.attachments == (
        {"type": "fallback", "url": "https://example.vn/a", "title": "Trang"},
        {"type": "fallback"},
    )


def test_unknown_or_urlless_attachments_keep_only_their_type():
    attachments = [
        {"type": "template", "payload": {"template_type": "generic", "elements": []}},
        {"type": "video", "payload": {"url": None}},
        {"type": "sticker", "payload": {"sticker_id": True}},
    ]
    event = only(member_event(message={"mid": "m_x", "attachments": attachments}))
    assert event.attachments == ({"type": "template"}, {"type": "video"}, {"type": "sticker"})


# --- echoes ---------------------------------------------------------------------------------


def test_echo_of_our_own_reply_carries_metadata_and_app_id():
    assert only(load("echo_ours")) == PageEcho(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_Ec3OuR2sE1cH0oW9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT9uV8wX7yZ6aB5cD4eF3gH2iJ1kL0mN9oP8qR7sT6u"
        ),
        text=(
            "Mức lương tối thiểu vùng I từ 01/7/2024 là 4.960.000 đồng/tháng "
            "(Nghị định 74/2024/NĐ-CP)."
        ),
        platform_ts=utc("2024-06-17T08:00:03.870"),
        metadata="outbox:42",
        app_id="1111111111",
    )


def test_echo_of_a_staff_reply_from_meta_business_suite():
    assert only(load("echo_staff")) == PageEcho(
        channel="facebook",
        page_id=PAGE,
        user_id=MEMBER_A,
        platform_message_id=(
            "m_Es9TaF8fS7tA6fF5mE4sS3aG2eE1cC0hH9oO8sS7tT6aA5fF4fF3mM2eE1sS0aA9gG8eE7cC6hH5oO4sS3tT2a"
        ),
        text="Chào anh, cán bộ công đoàn sẽ gọi lại cho anh trong hôm nay ạ.",
        platform_ts=utc("2024-06-17T08:15:07.233"),
        metadata=None,
        app_id="263902037430900",
    )


def test_echo_without_text_or_app_id():
    body = load("echo_staff")
    message = body["entry"][0]["messaging"][0]["message"]
    del message["text"], message["app_id"]
    message["attachments"] = [{"type": "image", "payload": {"url": "https://x.vn/a.jpg"}}]
    echo = only(body)
    assert isinstance(echo, PageEcho)
    assert (echo.user_id, echo.text, echo.app_id) == (MEMBER_A, "", None)


# --- ignored events -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("read", "read"), ("delivery", "delivery"), ("reaction", "reaction"), ("standby", "standby")],
)
def test_events_we_do_not_act_on(name, kind):
    assert parse_delivery(load(name)) == [Ignored("facebook", PAGE, kind)]


@pytest.mark.parametrize(
    "kind",
    ["optin", "referral", "account_linking", "pass_thread_control", "take_thread_control"],
)
def test_other_messaging_events_are_ignored_by_their_key(kind):
    assert only(member_event(**{kind: {"metadata": "x"}})) == Ignored("facebook", PAGE, kind)


def test_an_event_with_only_the_envelope_is_unknown():
    assert only(member_event()) == Ignored("facebook", PAGE, "unknown")


def test_dashboard_changes_items_are_ignored():
    body = {
        "object": "page",
        "entry": [
            {
                "id": "0",
                "time": 1508962606,
                "changes": [{"field": "messages", "value": {"page_id": "1067280970047460"}}],
            }
        ],
    }
    assert parse_delivery(body) == [Ignored("facebook", "0", "changes")]


def test_member_message_without_mid_is_ignored_and_the_batch_goes_on():
    body = load("batch_3")
    del body["entry"][0]["messaging"][0]["message"]["mid"]
    events = parse_delivery(body)
    assert events[0] == Ignored("facebook", PAGE, "message_without_mid")
    assert [e.user_id for e in events if isinstance(e, InboundMessage)] == [MEMBER_B, MEMBER_C]


def test_message_without_text_attachments_or_payload_is_ignored():
    assert only(member_event(message={"mid": "m_empty", "text": ""})) == Ignored(
        "facebook", PAGE, "empty_message"
    )


# --- batches and page ids -------------------------------------------------------------------


def test_batch_gives_every_message_of_every_entry_in_order():
    events = parse_delivery(load("batch_3"))
    assert events == [
        InboundMessage(
            channel="facebook",
            page_id=PAGE,
            user_id=MEMBER_A,
            platform_message_id="m_Ba1" + "AaA1aAa1" * 10 + "AaA",
            text="công ty nợ lương 2 tháng thì làm sao",
            platform_ts=utc("2024-06-17T08:11:40.102"),
        ),
        Ignored("facebook", PAGE, "read"),
        InboundMessage(
            channel="facebook",
            page_id=PAGE,
            user_id=MEMBER_B,
            platform_message_id="m_Ba2" + "BbB2bBb2" * 10 + "BbB",
            text="đóng đoàn phí bao nhiêu một tháng",
            platform_ts=utc("2024-06-17T08:11:40.415"),
        ),
        InboundMessage(
            channel="facebook",
            page_id=PAGE,
            user_id=MEMBER_C,
            platform_message_id="m_Ba3" + "CcC3cCc3" * 10 + "CcC",
            text="nghỉ thai sản được mấy tháng",
            platform_ts=utc("2024-06-17T08:11:40.650"),
        ),
    ]
    assert len([e for e in events if isinstance(e, InboundMessage)]) == 3


def test_a_batch_of_1000_events_gives_all_1000():
    body = load("text")
    template = body["entry"][0]["messaging"][0]
    events = []
    for i in range(1000):
        event = copy.deepcopy(template)
        event["sender"]["id"] = str(6900000000000000 + i)
        event["message"]["mid"] = f"m_batch{i}"
        events.append(event)
    body["entry"][0]["messaging"] = events
    parsed = parse_delivery(body)
    assert [e.platform_message_id for e in parsed] == [f"m_batch{i}" for i in range(1000)]
    assert parsed[999].user_id == "6900000000000999"


def test_page_ids_are_distinct_strings_in_order():
    assert page_ids(load("batch_3")) == [PAGE]
    body = load("text")
    body["entry"] = [{"id": 222}, {"id": "111"}, {"id": "222"}, {"id": 111}, {"id": "333"}]
    assert page_ids(body) == ["222", "111", "333"]


def test_numeric_ids_become_strings():
    body = member_event(message={"mid": "m_num", "text": "xin chào"})
    body["entry"][0]["id"] = 1234567890
    body["entry"][0]["messaging"][0]["sender"]["id"] = 6912345678901234
    event = only(body)
    assert (event.page_id, event.user_id) == (PAGE, MEMBER_A)


# --- timestamps and text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1718611200187, utc("2024-06-17T08:00:00.187")),
        (1718611200187.0, utc("2024-06-17T08:00:00.187")),
        ("1527459824", utc("2018-05-27T22:23:44")),
        ("1527459824.5", utc("2018-05-27T22:23:44.500")),
        ("không phải số", None),
        ("", None),
        (None, None),
        (True, None),
        ({"ms": 1}, None),
        ("1e300", None),
        (10**400, None),
        ("nan", None),
    ],
)
def test_timestamp_forms(timestamp, expected):
    event = only(member_event(timestamp=timestamp, message={"mid": "m_ts", "text": "a"}))
    assert event.platform_ts == expected
    if expected is not None:
        assert event.platform_ts.utcoffset() == dt.timedelta(0)


def test_text_longer_than_20000_characters_is_truncated():
    event = only(member_event(message={"mid": "m_long", "text": "ă" * 20001}))
    assert event.text == "ă" * 20000


# --- malformed envelopes --------------------------------------------------------------------


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The text fixture with one value replaced (or removed when value is ``...``)."""
    body = load("text")
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


EVENT = ("entry", 0, "messaging", 0)
MALFORMED = {
    "not a dict": ["object", "page"],
    "no object": _with(("object",), ...),
    "object is not page": _with(("object",), "instagram"),
    "no entry": _with(("entry",), ...),
    "entry not a list": _with(("entry",), {"id": PAGE}),
    "entry empty": _with(("entry",), []),
    "entry item not a dict": _with(("entry", 0), "1234567890"),
    "entry id missing": _with(("entry", 0, "id"), ...),
    "entry id is a float": _with(("entry", 0, "id"), 1234567890.0),
    "entry id is a bool": _with(("entry", 0, "id"), True),
    "entry id is empty": _with(("entry", 0, "id"), ""),
}
MALFORMED_EVENTS = {
    "messaging not a list": _with(("entry", 0, "messaging"), {"sender": {}}),
    "standby not a list": _with(("entry", 0, "standby"), "x"),
    "event not a dict": _with((*EVENT,), ["message"]),
    "sender missing": _with((*EVENT, "sender"), ...),
    "sender not a dict": _with((*EVENT, "sender"), MEMBER_A),
    "sender id missing": _with((*EVENT, "sender"), {"user_ref": "abc"}),
    "sender id is a list": _with((*EVENT, "sender", "id"), [MEMBER_A]),
    "recipient id missing": _with((*EVENT, "recipient"), {}),
    "message not a dict": _with((*EVENT, "message"), "xin chào"),
    "text not a string": _with((*EVENT, "message", "text"), 42),
    "mid not a string": _with((*EVENT, "message", "mid"), 42),
    "quick_reply not a dict": _with((*EVENT, "message", "quick_reply"), "CHU_DE_LUONG"),
    "quick_reply payload not a string": _with((*EVENT, "message", "quick_reply"), {"payload": 1}),
    "attachments not a list": _with((*EVENT, "message", "attachments"), {"type": "image"}),
    "attachment not a dict": _with((*EVENT, "message", "attachments"), ["image"]),
    "attachment without type": _with((*EVENT, "message", "attachments"), [{"payload": {}}]),
    "echo metadata not a string": _with(
        (*EVENT, "message"), {"mid": "m", "is_echo": True, "metadata": 42}
    ),
    "echo app_id is a dict": _with(
        (*EVENT, "message"), {"mid": "m", "is_echo": True, "app_id": {}}
    ),
    "postback not a dict": _with(
        (*EVENT,),
        {"sender": {"id": MEMBER_A}, "recipient": {"id": PAGE}, "postback": "GET_STARTED"},
    ),
    "postback title not a string": _with(
        (*EVENT,),
        {
            "sender": {"id": MEMBER_A},
            "recipient": {"id": PAGE},
            "postback": {"mid": "m", "title": 1},
        },
    ),
    "postback sender missing": _with(
        (*EVENT,), {"recipient": {"id": PAGE}, "postback": {"mid": "m"}}
    ),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_rejected_by_both_functions(body):
    with pytest.raises(InvalidPayload):
        page_ids(body)
    with pytest.raises(InvalidPayload):
        parse_delivery(body)


@pytest.mark.parametrize("body", MALFORMED_EVENTS.values(), ids=MALFORMED_EVENTS.keys())
def test_malformed_event_is_rejected(body):
    assert page_ids(body) == [PAGE]
    with pytest.raises(InvalidPayload):
        parse_delivery(body)


def test_invalid_payload_says_why():
    with pytest.raises(InvalidPayload, match=r"sender\.id"):
        parse_delivery(_with((*EVENT, "sender"), ...))

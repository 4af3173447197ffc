import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import Ignored, InboundMessage, InvalidPayload, MemberEvent, PageEcho
from bot.channels.zalo.parse import account_id, epoch_ms, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zalo"
OA = "3662729599332560487"
MEMBER = "6142494823190184727"
OTHER_MEMBER = "5417391842096618512"
UTC = dt.UTC


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def only(body: Any) -> Any:
    events = parse_event(body)
    assert len(events) == 1
    return events[0]


def test_text_message():
    assert parse_event(load("user_send_text")) == [
        InboundMessage(
            channel="zalo",
            page_id=OA,
            user_id=MEMBER,
            platform_message_id="cb31dff1c39642cc1b83",
            text="cty ko đóng bhxh thì sao",
            platform_ts=dt.datetime(2025, 5, 15, 9, 27, 10, 145000, tzinfo=UTC),
        )
    ]


def test_button_payload_text_is_also_the_payload():
    assert only(load("user_send_text_payload")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="a7e2c04b19f35d6e8a21",
        text="/request_human",
        platform_ts=dt.datetime(2025, 5, 15, 9, 28, 11, 7000, tzinfo=UTC),
        payload="/request_human",
    )


def test_choose_faq_payload_keeps_its_json_argument():
    body = load("user_send_text")
    body["message"]["text"] = '/choose_faq{"faq_id": "bhxh_bat_buoc"}'
    assert only(body).payload == '/choose_faq{"faq_id": "bhxh_bat_buoc"}'


def test_image_message():
    assert only(load("user_send_image")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="96d3cdf3af1504609f2c",
        text="bảng lương tháng 4 của em đây ạ",
        platform_ts=dt.datetime(2025, 5, 15, 9, 29, 15, 412000, tzinfo=UTC),
        attachments=(
            {
                "type": "image",
                "url": "https://photo-stal-16.zdn.vn/5f1c2a9e0b7d4e6f.jpg",
                "thumbnail": "https://photo-stal-16.zdn.vn/thumb/720/5f1c2a9e0b7d4e6f.jpg",
            },
        ),
    )


def test_sticker_message():
    assert only(load("user_send_sticker")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="3f0a9d2c7b6e15f48d90",
        text="",
        platform_ts=dt.datetime(2025, 5, 15, 9, 30, 2, 988000, tzinfo=UTC),
        attachments=(
            {
                "type": "sticker",
                "url": "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=46991&size=130",
                "sticker_id": "bfb0a8e1a4a44dfa14b5",
            },
        ),
    )


def test_sticker_id_may_be_top_level():
    body = load("user_send_sticker")
    del body["message"]["attachments"][0]["payload"]["id"]
    body["sticker_id"] = "a1b2c3d4e5f60718293a"
    assert only(body).attachments[0]["sticker_id"] == "a1b2c3d4e5f60718293a"


def test_sticker_without_any_id_has_no_sticker_id_key():
    body = load("user_send_sticker")
    del body["message"]["attachments"][0]["payload"]["id"]
    assert only(body).attachments == (
        {
            "type": "sticker",
            "url": "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=46991&size=130",
        },
    )


def test_file_message_keeps_url_name_and_size_only():
    assert only(load("user_send_file")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=OTHER_MEMBER,
        platform_message_id="e41b7c09d25a6f8310ce",
        text="",
        platform_ts=dt.datetime(2025, 5, 15, 9, 31, 0, 230000, tzinfo=UTC),
        attachments=(
            {
                "type": "file",
                "url": "https://f21-zpc.zdn.vn/5081326482734926412/hop-dong-lao-dong.pdf",
                "name": "hop-dong-lao-dong.pdf",
                "size": "248331",
            },
        ),
    )


def test_location_message_has_float_coordinates():
    event = only(load("user_send_location"))
    assert event == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=OTHER_MEMBER,
        platform_message_id="0d8f63ab5e2c914b7a36",
        text="công ty em ở đây",
        platform_ts=dt.datetime(2025, 5, 15, 9, 32, 2, 871000, tzinfo=UTC),
        attachments=({"type": "location", "lat": 10.7769198, "long": 106.7009193},),
    )
    assert isinstance(event.attachments[0]["lat"], float)


def test_location_with_unreadable_coordinates_omits_them():
    body = load("user_send_location")
    body["message"]["attachments"][0]["payload"]["coordinates"] = {
        "latitude": "NaN",
        "longitude": "đông",
    }
    assert only(body).attachments == ({"type": "location"},)


def test_link_message():
    url = (
        "https://thuvienphapluat.vn/van-ban/Lao-dong-Tien-luong/Bo-Luat-lao-dong-2019-333670.aspx"
    )
    assert only(load("user_send_link")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="5c2e8b17f0a94d63e2b8",
        text=url,
        platform_ts=dt.datetime(2025, 5, 15, 9, 33, 3, 4000, tzinfo=UTC),
        attachments=(
            {"type": "link", "url": url, "description": "Bộ luật Lao động 2019 số 45/2019/QH14"},
        ),
    )


def test_audio_message():
    assert only(load("user_send_audio")) == InboundMessage(
        channel="zalo",
        page_id=OA,
        user_id=OTHER_MEMBER,
        platform_message_id="b93d0e7a4c61f2058e4d",
        text="",
        platform_ts=dt.datetime(2025, 5, 15, 9, 34, 10, 318000, tzinfo=UTC),
        attachments=({"type": "audio", "url": "https://voice-stal.zdn.vn/2f9c8b7a6d5e4f30.amr"},),
    )


def test_attachment_without_type_takes_the_event_kind_and_drops_missing_fields():
    body = load("user_send_image")
    body["event_name"] = "user_send_gif"
    body["message"]["attachments"] = [
        {"payload": {"url": "https://photo-stal-16.zdn.vn/a.gif", "thumbnail": None}},
        "not an attachment",
        {"type": "video", "payload": "not an object"},
    ]
    attachments = only(body).attachments
    assert attachments == (
        {"type": "gif", "url": "https://photo-stal-16.zdn.vn/a.gif"},
        {"type": "video"},
    )
    assert all(value is not None for item in attachments for value in item.values())


def test_business_card_is_an_inbound_message():
    body = load("user_send_image")
    body["event_name"] = "user_send_business_card"
    body["message"]["attachments"] = [{"type": "business_card", "payload": {}}]
    event = only(body)
    assert isinstance(event, InboundMessage)
    assert event.attachments == ({"type": "business_card"},)


def test_attachment_event_without_text_or_attachments_is_empty():
    body = load("user_send_audio")
    del body["message"]["attachments"]
    event = only(body)
    assert (event.text, event.attachments, event.payload) == ("", (), None)


def test_attachment_caption_is_never_a_payload():
    body = load("user_send_image")
    body["message"]["text"] = "/request_human"
    assert only(body).payload is None


def test_numeric_ids_are_kept_exact_as_strings():
    event = only(load("numeric_ids"))
    assert event.user_id == "6142494823190184727"
    assert event.page_id == "3662729599332560487"
    assert event.platform_ts == dt.datetime(2025, 5, 15, 9, 35, tzinfo=UTC)
    assert account_id(load("numeric_ids")) == "3662729599332560487"


def test_follow_and_unfollow():
    assert parse_event(load("follow")) == [
        MemberEvent(
            channel="zalo",
            page_id=OA,
            user_id=OTHER_MEMBER,
            kind="follow",
            platform_ts=dt.datetime(2025, 5, 15, 9, 6, 51, 532000, tzinfo=UTC),
        )
    ]
    assert parse_event(load("unfollow")) == [
        MemberEvent(
            channel="zalo",
            page_id=OA,
            user_id=OTHER_MEMBER,
            kind="unfollow",
            platform_ts=dt.datetime(2025, 5, 16, 10, 21, 17, 219000, tzinfo=UTC),
        )
    ]


def test_our_own_reply_echo_has_no_admin():
    assert only(load("oa_send_text_ours")) == PageEcho(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="7d1f0c2b9e8a43560b1f",
        text=(
            "Theo Luật Bảo hiểm xã hội, công ty phải đóng BHXH cho người lao động có hợp đồng "
            "từ 1 tháng trở lên."
        ),
        platform_ts=dt.datetime(2025, 5, 15, 9, 27, 20, 562000, tzinfo=UTC),
    )


def test_staff_reply_echo_carries_the_admin_id():
    assert only(load("oa_send_text_staff")) == PageEcho(
        channel="zalo",
        page_id=OA,
        user_id=MEMBER,
        platform_message_id="f28a6e3d0c5b47192d3e",
        text="Chào anh, cán bộ công đoàn sẽ gọi lại cho anh trong hôm nay nhé.",
        platform_ts=dt.datetime(2025, 5, 15, 9, 36, 1, 450000, tzinfo=UTC),
        admin_id="8827364519203847561",
    )


def test_numeric_admin_id_becomes_a_string():
    body = load("oa_send_text_staff")
    body["sender"]["admin_id"] = 8827364519203847561
    assert only(body).admin_id == "8827364519203847561"


def test_image_echo_has_empty_text():
    body = load("oa_send_text_ours")
    body["event_name"] = "oa_send_image"
    del body["message"]["text"]
    event = only(body)
    assert isinstance(event, PageEcho)
    assert event.text == ""


def test_delivery_events_are_ignored():
    assert parse_event(load("user_received_message")) == [
        Ignored(channel="zalo", page_id=OA, kind="user_received_message")
    ]
    assert parse_event(load("user_seen_message")) == [
        Ignored(channel="zalo", page_id=OA, kind="user_seen_message")
    ]


def test_unknown_event_is_ignored():
    body = load("user_send_text")
    body["event_name"] = "user_reacted_message"
    assert parse_event(body) == [Ignored(channel="zalo", page_id=OA, kind="user_reacted_message")]


def test_account_id_for_each_event_family():
    assert account_id(load("user_send_text")) == OA
    assert account_id(load("user_send_image")) == OA
    assert account_id(load("user_seen_message")) == OA
    assert account_id(load("user_received_message")) == OA
    assert account_id(load("oa_send_text_ours")) == OA
    assert account_id(load("oa_send_text_staff")) == OA
    assert account_id(load("follow")) == OA
    assert account_id(load("unfollow")) == OA


def test_account_id_reads_the_right_side_not_the_member():
    # a member id on the wrong side must never be taken for the OA
    echo = load("oa_send_text_ours")
    echo["sender"]["id"] = "1111111111111111111"
    assert account_id(echo) == "1111111111111111111"
    message = load("user_send_text")
    message["recipient"]["id"] = "2222222222222222222"
    assert account_id(message) == "2222222222222222222"


def test_follow_account_id_falls_back_to_recipient():
    body = load("follow")
    del body["oa_id"]
    body["recipient"] = {"id": OA}
    assert account_id(body) == OA
    assert only(body).page_id == OA


@pytest.mark.parametrize(
    "body",
    [
        [],
        "user_send_text",
        {},
        {"event_name": ""},
        {"event_name": 3},
        {"event_name": "follow", "follower": {"id": MEMBER}},
        {"event_name": "oa_send_text", "recipient": {"id": MEMBER}},
        {"event_name": "user_send_text", "sender": {"id": MEMBER}, "recipient": "3662729599"},
        {"event_name": "user_send_text", "recipient": {"id": 3.662729599332560487e18}},
        {"event_name": "user_send_text", "recipient": {"id": True}},
    ],
)
def test_account_id_rejects_bodies_without_an_oa(body: Any):
    with pytest.raises(InvalidPayload):
        account_id(body)


DELETE = object()


def mutated(name: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """The fixture with the value at ``path`` replaced (or deleted when ``value`` is DELETE)."""
    body = load(name)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([load("user_send_text")], "JSON object"),
        (mutated("user_send_text", ("event_name",), None), "event_name"),
        (mutated("user_send_text", ("sender",), DELETE), "sender.id"),
        (mutated("user_send_text", ("sender", "id"), "  "), "sender.id"),
        (mutated("user_send_text", ("sender",), MEMBER), "sender.id"),
        (mutated("user_send_text", ("sender", "id"), 6.142494823190185e18), "sender.id"),
        (mutated("user_send_text", ("recipient", "id"), ""), "recipient.id"),
        (mutated("user_send_text", ("message",), "cty ko đóng bhxh"), "message must be"),
        (mutated("user_send_text", ("message", "msg_id"), DELETE), "message.msg_id"),
        (mutated("user_send_text", ("message", "msg_id"), ""), "message.msg_id"),
        (mutated("user_send_text", ("message", "text"), 42), "message.text"),
        (mutated("user_send_text", ("message", "text"), DELETE), "message.text"),
        (mutated("user_send_image", ("message", "text"), ["ảnh"]), "message.text"),
        (mutated("user_send_image", ("message", "msg_id"), DELETE), "message.msg_id"),
        (mutated("follow", ("follower",), DELETE), "follower.id"),
        (mutated("oa_send_text_ours", ("recipient",), DELETE), "recipient.id"),
        (mutated("oa_send_text_ours", ("message", "msg_id"), None), "message.msg_id"),
        (mutated("oa_send_text_ours", ("message", "text"), {"text": "x"}), "message.text"),
    ],
)
def test_malformed_bodies_raise_with_a_reason(body: Any, reason: str):
    with pytest.raises(InvalidPayload, match=reason):
        parse_event(body)


def test_long_text_is_truncated():
    body = load("user_send_text")
    body["message"]["text"] = "đ" * 25000
    assert only(body).text == "đ" * 20000


def test_ids_and_msg_id_are_stripped():
    body = load("user_send_text")
    body["sender"]["id"] = f" {MEMBER} "
    body["message"]["msg_id"] = "cb31dff1c39642cc1b83\n"
    event = only(body)
    assert (event.user_id, event.platform_message_id) == (MEMBER, "cb31dff1c39642cc1b83")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1747301230145", dt.datetime(2025, 5, 15, 9, 27, 10, 145000, tzinfo=UTC)),
        (1747301230145, dt.datetime(2025, 5, 15, 9, 27, 10, 145000, tzinfo=UTC)),
        ("0", dt.datetime(1970, 1, 1, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("1747301230.145", None),
        ("-1747301230145", None),
        (1747301230.145, None),
        (True, None),
        ("999999999999999", None),  # past year 9999
        ("١٧٤٧٣٠١٢٣٠١٤٥", None),  # non-ASCII digits
    ],
)
def test_epoch_ms(value: Any, expected: dt.datetime | None):
    assert epoch_ms(value) == expected


def test_unreadable_timestamp_gives_no_platform_time():
    body = load("user_send_text")
    body["timestamp"] = "hôm qua"
    event = only(body)
    assert event.platform_ts is None
    assert event.platform_message_id == "cb31dff1c39642cc1b83"


def test_camel_case_timestamp_is_accepted():
    body = load("user_send_text")
    body["timeStamp"] = body.pop("timestamp")
    assert only(body).platform_ts == dt.datetime(2025, 5, 15, 9, 27, 10, 145000, tzinfo=UTC)


def test_other_event_without_recipient_uses_oa_id():
    body = {"event_name": "add_user_to_tag", "app_id": "2553928453557884079", "oa_id": OA}
    assert account_id(body) == OA
    assert parse_event(body) == [Ignored(channel="zalo", page_id=OA, kind="add_user_to_tag")]

"""Turning a Zalo OA webhook event into channel-neutral events (platforms.md §2.2).

Zalo posts one event per request. Every id is kept as a string: ids are 18-19 digit numbers,
which a float would round, so a JSON number is written out exactly and never converted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from bot.channels.base import (
    Ignored,
    InboundMessage,
    InvalidPayload,
    MemberEvent,
    PageEcho,
    WebhookEvent,
)
from bot.channels.zalo import CHANNEL

MAX_TEXT = 20000
PAYLOAD_PREFIX = "/"  # our button payloads: ``/choose_faq{...}``, ``/request_human``
ECHO_PREFIX = "oa_send_"
TEXT_EVENT = "user_send_text"
MESSAGE_EVENTS = frozenset(
    {
        TEXT_EVENT,
        "user_send_image",
        "user_send_gif",
        "user_send_file",
        "user_send_audio",
        "user_send_video",
        "user_send_sticker",
        "user_send_link",
        "user_send_location",
        "user_send_business_card",
    }
)
FOLLOW_EVENTS = frozenset({"follow", "unfollow"})
DELIVERY_EVENTS = frozenset({"user_received_message", "user_seen_message"})  # sender is the OA
ATTACHMENT_FIELDS = {
    "image": ("url", "thumbnail"),
    "gif": ("url", "thumbnail"),
    "sticker": ("url",),
    "file": ("url", "name", "size"),
    "link": ("url", "description"),
    "audio": ("url",),
    "video": ("url",),
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_MS_RE = re.compile(r"[0-9]{1,15}")


def account_id(body: Any) -> str:
    """The id of the OA the event belongs to, to pick its secret before anything else.

    Args:
        body: The decoded JSON body.

    Returns:
        ``sender.id`` for ``oa_send_*`` echoes and delivery events (the OA sent the message),
        ``oa_id`` (else ``recipient.id``) for ``follow``/``unfollow``, and ``recipient.id``
        (else ``oa_id``) for everything a member sends.

    Raises:
        InvalidPayload: The body is not an object with an ``event_name``, or has no OA id.
    """
    name = _event_name(body)
    if name in FOLLOW_EVENTS:
        found = _id(body.get("oa_id")) or _nested_id(body, "recipient")
    elif name.startswith(ECHO_PREFIX) or name in DELIVERY_EVENTS:
        found = _nested_id(body, "sender")
    else:
        found = _nested_id(body, "recipient") or _id(body.get("oa_id"))
    return _required(found, "the OA id")


def parse_event(body: Any) -> list[WebhookEvent]:
    """The events in one webhook request: always exactly one for Zalo.

    Args:
        body: The decoded JSON body.

    Returns:
        An InboundMessage for ``user_send_*`` messages, a MemberEvent for ``follow`` and
        ``unfollow``, a PageEcho for ``oa_send_*`` and Ignored for anything else.

    Raises:
        InvalidPayload: The event lacks what its kind requires (ids, ``message.msg_id``,
            a string text).
    """
    name = _event_name(body)
    if name in MESSAGE_EVENTS:
        return [_inbound(body, name)]
    if name in FOLLOW_EVENTS:
        return [
            MemberEvent(
                channel=CHANNEL,
                page_id=account_id(body),
                user_id=_required(_nested_id(body, "follower"), "follower.id"),
                kind=name,
                platform_ts=epoch_ms(timestamp_of(body)),
            )
        ]
    if name.startswith(ECHO_PREFIX):
        return [_echo(body)]
    return [Ignored(channel=CHANNEL, page_id=account_id(body), kind=name)]


def timestamp_of(body: Mapping[str, Any]) -> Any:
    """The event's ``timestamp`` field, or the ``timeStamp`` spelling some senders use."""
    value = body.get("timestamp")
    return body.get("timeStamp") if value is None or value == "" else value


def epoch_ms(value: Any) -> dt.datetime | None:
    """An aware UTC time from epoch milliseconds (a digit string or an integer), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not EPOCH_MS_RE.fullmatch(value.strip()):
        return None
    try:
        return EPOCH + dt.timedelta(milliseconds=int(value))
    except OverflowError:
        return None


def _event_name(body: Any) -> str:
    if not isinstance(body, dict):
        raise InvalidPayload("body must be a JSON object")
    name = body.get("event_name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidPayload("event_name must be a non-empty string")
    return name


def _id(value: Any) -> str | None:
    """An id as a string: strings stripped, integers written out; anything else is no id."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _nested_id(body: Mapping[str, Any], key: str) -> str | None:
    part = body.get(key)
    return _id(part.get("id")) if isinstance(part, dict) else None


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise InvalidPayload(f"{name} is missing")
    return value


def _message(body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The ``message`` object and its ``msg_id`` (the dedup key)."""
    message = body.get("message")
    if not isinstance(message, dict):
        raise InvalidPayload("message must be an object")
    return message, _required(_id(message.get("msg_id")), "message.msg_id")


def _text(message: Mapping[str, Any], *, required: bool) -> str:
    text = message.get("text")
    if text is None and not required:
        return ""
    if not isinstance(text, str):
        raise InvalidPayload("message.text must be a string")
    return text[:MAX_TEXT]


def _inbound(body: Mapping[str, Any], name: str) -> InboundMessage:
    user_id = _required(_nested_id(body, "sender"), "sender.id")
    page_id = _required(_nested_id(body, "recipient"), "recipient.id")
    message, msg_id = _message(body)
    is_text = name == TEXT_EVENT
    text = _text(message, required=is_text)
    return InboundMessage(
        channel=CHANNEL,
        page_id=page_id,
        user_id=user_id,
        platform_message_id=msg_id,
        text=text,
        platform_ts=epoch_ms(timestamp_of(body)),
        # a tap on an ``oa.query.*`` button arrives as its payload text (UNCONFIRMED, §2.2)
        payload=text if is_text and text.startswith(PAYLOAD_PREFIX) else None,
        attachments=_attachments(body, message, name.removeprefix("user_send_")),
    )


def _echo(body: Mapping[str, Any]) -> PageEcho:
    page_id = _required(_nested_id(body, "sender"), "sender.id")
    user_id = _required(_nested_id(body, "recipient"), "recipient.id")
    message, msg_id = _message(body)
    return PageEcho(
        channel=CHANNEL,
        page_id=page_id,
        user_id=user_id,
        platform_message_id=msg_id,
        text=_text(message, required=False),
        platform_ts=epoch_ms(timestamp_of(body)),
        # reported only for messages staff typed in the OA chat tool (UNCONFIRMED, §6.2)
        admin_id=_id(body["sender"].get("admin_id")),
    )


def _attachments(
    body: Mapping[str, Any], message: Mapping[str, Any], default_kind: str
) -> tuple[dict[str, Any], ...]:
    items = message.get("attachments")
    if not isinstance(items, list):
        return ()
    return tuple(_attachment(body, item, default_kind) for item in items if isinstance(item, dict))


def _attachment(
    body: Mapping[str, Any], item: Mapping[str, Any], default_kind: str
) -> dict[str, Any]:
    """A small normalized dict: the type and the payload fields we keep, none of them None."""
    kind = item.get("type")
    if not isinstance(kind, str) or not kind.strip():
        kind = default_kind
    payload = item.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    found: dict[str, Any] = {"type": kind}
    for key in ATTACHMENT_FIELDS.get(kind, ()):
        if _scalar(payload.get(key)):
            found[key] = payload[key]
    if kind == "location":
        found.update(_coordinates(payload.get("coordinates")))
    if kind == "sticker":
        sticker_id = _id(payload.get("id")) or _id(body.get("sticker_id"))
        if sticker_id:
            found["sticker_id"] = sticker_id
    return found


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coordinates(coordinates: Any) -> dict[str, float]:
    if not isinstance(coordinates, dict):
        return {}
    found = {}
    for key, field in (("lat", "latitude"), ("long", "longitude")):
        number = _float(coordinates.get(field))
        if number is not None:
            found[key] = number
    return found


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

"""Turning a Messenger webhook delivery into channel events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.channels.base import Ignored, InboundMessage, InvalidPayload, PageEcho, WebhookEvent
from bot.channels.facebook import CHANNEL

MAX_TEXT = 20000  # far above the platform's own limit: truncate rather than reject
ENVELOPE_KEYS = frozenset({"sender", "recipient", "timestamp"})
MEDIA_TYPES = frozenset({"image", "video", "audio", "file"})
LINK_KEYS = ("url", "title")


def page_ids(body: Any) -> list[str]:
    """The distinct ``entry[].id`` values of a delivery, in order of first appearance."""
    return list(dict.fromkeys(_id(entry.get("id"), "entry.id") for entry in _entries(body)))


def parse_delivery(body: Any) -> list[WebhookEvent]:
    """Every event of every entry, in order.

    ``messaging[]`` events become messages, echoes or ``Ignored`` events; every ``standby[]``
    event (a thread our app does not own) and every ``changes[]`` item (dashboard tests, other
    webhook fields) becomes ``Ignored``.

    Raises:
        InvalidPayload: The body does not have the documented envelope shape.
    """
    events: list[WebhookEvent] = []
    for entry in _entries(body):
        page_id = _id(entry.get("id"), "entry.id")
        events.extend(_event(page_id, event) for event in _list(entry, "messaging"))
        events.extend(Ignored(CHANNEL, page_id, "standby") for _ in _list(entry, "standby"))
        events.extend(Ignored(CHANNEL, page_id, "changes") for _ in _list(entry, "changes"))
    return events


def _entries(body: Any) -> list[dict[str, Any]]:
    """The entries of a ``{"object": "page", "entry": [...]}`` body."""
    if not isinstance(body, dict) or body.get("object") != "page":
        raise InvalidPayload('body must be an object with "object": "page"')
    entries = body.get("entry")
    if not isinstance(entries, list) or not entries:
        raise InvalidPayload("entry must be a non-empty list")
    if not all(isinstance(entry, dict) for entry in entries):
        raise InvalidPayload("each entry must be an object")
    return entries


def _list(entry: dict[str, Any], key: str) -> list[Any]:
    """An optional list of an entry (``messaging``, ``standby``, ``changes``)."""
    items = entry.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidPayload(f"entry.{key} must be a list")
    return items


def _event(page_id: str, event: Any) -> WebhookEvent:
    """One ``messaging[]`` event."""
    if not isinstance(event, dict):
        raise InvalidPayload("each messaging event must be an object")
    if "message" in event:
        return _message(page_id, event)
    if "postback" in event:
        return _postback(page_id, event)
    kind = next((key for key in event if key not in ENVELOPE_KEYS), "unknown")
    return Ignored(CHANNEL, page_id, kind)


def _message(page_id: str, event: dict[str, Any]) -> WebhookEvent:
    """A ``message`` event: an echo of what the page sent, or a member's message."""
    sender, recipient = _parties(event)
    message = _object(event, "message")
    mid = _optional_str(message, "mid", "message.mid")
    if not mid:
        return Ignored(CHANNEL, page_id, "message_without_mid")
    timestamp = _timestamp(event.get("timestamp"))
    if message.get("is_echo"):
        app_id = message.get("app_id")
        return PageEcho(
            channel=CHANNEL,
            page_id=page_id,
            user_id=recipient,
            platform_message_id=mid,
            text=_text(message, "text", "message.text"),
            platform_ts=timestamp,
            metadata=_optional_str(message, "metadata", "message.metadata"),
            app_id=None if app_id is None else _id(app_id, "message.app_id"),
        )
    text = _text(message, "text", "message.text")
    payload = _quick_reply_payload(message)
    attachments = _attachments(message)
    if not (text or payload or attachments):
        return Ignored(CHANNEL, page_id, "empty_message")
    return InboundMessage(
        channel=CHANNEL,
        page_id=page_id,
        user_id=sender,
        platform_message_id=mid,
        text=text,
        platform_ts=timestamp,
        payload=payload,
        attachments=attachments,
    )


def _postback(page_id: str, event: dict[str, Any]) -> WebhookEvent:
    """A ``postback`` event (button, Get Started, persistent menu)."""
    sender, _ = _parties(event)
    postback = _object(event, "postback")
    raw_ts = event.get("timestamp")
    mid = _optional_str(postback, "mid", "postback.mid")
    if not mid and _is_id(raw_ts):
        mid = f"postback:{sender}:{raw_ts}"  # APIs before v11.0 send no mid
    if not mid:
        return Ignored(CHANNEL, page_id, "postback_without_mid")
    return InboundMessage(
        channel=CHANNEL,
        page_id=page_id,
        user_id=sender,
        platform_message_id=mid,
        text=_text(postback, "title", "postback.title"),
        platform_ts=_timestamp(raw_ts),
        payload=_optional_str(postback, "payload", "postback.payload") or None,
    )


def _quick_reply_payload(message: dict[str, Any]) -> str | None:
    """The payload of a quick-reply tap, if the message is one."""
    quick_reply = message.get("quick_reply")
    if quick_reply is None:
        return None
    if not isinstance(quick_reply, dict):
        raise InvalidPayload("message.quick_reply must be an object")
    return _optional_str(quick_reply, "payload", "message.quick_reply.payload") or None


def _attachments(message: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The normalized attachments, without the image copy of a sticker (Meta's transition)."""
    raw = message.get("attachments")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise InvalidPayload("message.attachments must be a list of objects")
    items = [_attachment(item, message.get("sticker_id")) for item in raw]
    sticker_urls = {item["url"] for item in items if item["type"] == "sticker" and "url" in item}
    return tuple(
        item for item in items if not (item["type"] == "image" and item.get("url") in sticker_urls)
    )


def _attachment(item: dict[str, Any], message_sticker_id: Any) -> dict[str, Any]:
    """One attachment as a small dict: its type and whichever useful fields are present."""
    kind = item.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidPayload("attachment type must be a non-empty string")
    payload = item.get("payload")
    if not isinstance(payload, dict):
        payload = {}  # shared links and unsupported shares may come without a payload
    if kind in MEDIA_TYPES:
        return {"type": kind, **_strings(payload, "url")}
    if kind == "sticker":
        sticker_id = payload.get("sticker_id")
        if sticker_id is None:
            sticker_id = message_sticker_id
        return {"type": kind, **_strings(payload, "url"), **_sticker_id(sticker_id)}
    if kind == "location":
        return {"type": kind, **_coordinates(payload.get("coordinates"))}
    if kind == "fallback":  # v6.0+ puts url and title in the payload, older versions beside it
        return {"type": kind, **_strings(item, *LINK_KEYS), **_strings(payload, *LINK_KEYS)}
    return {"type": kind}


def _strings(source: dict[str, Any], *keys: str) -> dict[str, str]:
    """The given keys whose values are non-empty strings."""
    return {key: source[key] for key in keys if isinstance(source.get(key), str) and source[key]}


def _sticker_id(value: Any) -> dict[str, str]:
    """``{"sticker_id": ...}`` as a string, or nothing when the id is missing or malformed."""
    return {"sticker_id": str(value)} if _is_id(value) else {}


def _coordinates(value: Any) -> dict[str, float]:
    """``lat`` and ``long`` as floats, whichever are numbers."""
    if not isinstance(value, dict):
        return {}
    return {
        key: float(value[key])
        for key in ("lat", "long")
        if isinstance(value.get(key), int | float) and not isinstance(value[key], bool)
    }


def _timestamp(value: Any) -> dt.datetime | None:
    """Epoch milliseconds (a number) or epoch seconds (a string, dashboard tests) as UTC."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        if isinstance(value, str):
            return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _is_id(value: Any) -> bool:
    """Whether a value is an id as JSON may carry it: a non-empty string or an integer."""
    return (isinstance(value, str) and value != "") or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def _id(value: Any, what: str) -> str:
    """An id that JSON may carry as a string or a number, as a string."""
    if not _is_id(value):
        raise InvalidPayload(f"{what} must be a non-empty string or integer")
    return str(value)


def _parties(event: dict[str, Any]) -> tuple[str, str]:
    """The ``sender.id`` and ``recipient.id`` of a messaging event."""
    return _party(event, "sender"), _party(event, "recipient")


def _party(event: dict[str, Any], key: str) -> str:
    """``event[key].id``."""
    party = event.get(key)
    return _id(party.get("id") if isinstance(party, dict) else None, f"{key}.id")


def _object(event: dict[str, Any], key: str) -> dict[str, Any]:
    """``event[key]``, which must be an object."""
    value = event[key]
    if not isinstance(value, dict):
        raise InvalidPayload(f"{key} must be an object")
    return value


def _optional_str(source: dict[str, Any], key: str, what: str) -> str | None:
    """An optional string field."""
    value = source.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidPayload(f"{what} must be a string")
    return value


def _text(source: dict[str, Any], key: str, what: str) -> str:
    """An optional text field: "" when missing, cut to ``MAX_TEXT`` characters."""
    return (_optional_str(source, key, what) or "")[:MAX_TEXT]

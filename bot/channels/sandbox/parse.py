"""Validating what the chat page posts."""

from __future__ import annotations

import re
import uuid
from typing import Any

from bot.channels.base import InboundMessage
from bot.channels.sandbox import CHANNEL

SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 2000
MAX_PAYLOAD = 1000


class InvalidSandboxMessage(ValueError):
    """The posted message is not acceptable; the text says why (in English, for developers)."""


def parse_message(body: Any, page_id: str) -> InboundMessage:
    """An inbound message from ``{"session", "text", "client_id"?, "payload"?}``."""
    if not isinstance(body, dict):
        raise InvalidSandboxMessage("body must be a JSON object")
    session = body.get("session")
    text = body.get("text")
    client_id = body.get("client_id") or uuid.uuid4().hex
    payload = body.get("payload")
    if not isinstance(session, str) or not SESSION_RE.match(session):
        raise InvalidSandboxMessage("session must be 8-64 letters, digits, _ or -")
    if not isinstance(text, str) or not text.strip():
        raise InvalidSandboxMessage("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise InvalidSandboxMessage(f"text is longer than {MAX_TEXT} characters")
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise InvalidSandboxMessage("client_id must be 1-64 letters, digits, _ or -")
    if payload is not None and (not isinstance(payload, str) or len(payload) > MAX_PAYLOAD):
        raise InvalidSandboxMessage(
            f"payload must be a string of at most {MAX_PAYLOAD} characters"
        )
    return InboundMessage(
        channel=CHANNEL,
        page_id=page_id,
        user_id=session,
        platform_message_id=f"{session}:{client_id}",
        text=text.strip(),
        payload=payload or None,
    )

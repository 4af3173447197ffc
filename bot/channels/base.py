"""What every channel produces and consumes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class InboundMessage:
    """A member's message, normalized from any platform's webhook payload."""

    channel: str
    page_id: str
    user_id: str
    platform_message_id: str
    text: str
    platform_ts: dt.datetime | None = None
    payload: str | None = None  # quick-reply or postback payload, sent to Rasa instead of text
    attachments: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class OutboundMessage:
    """A reply as stored in the outbox, handed to the channel's sender."""

    message_id: int
    conversation_id: int
    page_id: str
    user_id: str
    text: str
    quick_replies: tuple[dict[str, str], ...] = field(default=())


class SendError(Exception):
    """A send that failed; ``retryable`` says whether the outbox should try again."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class ChannelSender(Protocol):
    """Delivers one outbound message; returns the platform's message id."""

    async def send(self, message: OutboundMessage) -> str: ...

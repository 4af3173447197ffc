"""What every channel produces and consumes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
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


def only_stickers(attachments: Sequence[Mapping[str, Any]]) -> bool:
    """Attachments that are all stickers (a thumbs-up, a smile): they ask nothing."""
    return bool(attachments) and all(a.get("type") == "sticker" for a in attachments)


@dataclass(frozen=True)
class PageEcho:
    """A message the page or OA sent to a member, reported back by the platform.

    Either one of our own replies (Facebook: ``metadata`` is what we set on the send; Zalo: the
    ``platform_message_id`` matches a reply we sent) or a reply staff typed in the platform's
    own tool (Meta Business Suite, the Zalo OA chat), which puts the conversation in staff mode.
    """

    channel: str
    page_id: str
    user_id: str  # the member the message went to
    platform_message_id: str
    text: str
    platform_ts: dt.datetime | None = None
    metadata: str | None = None  # Facebook ``message.metadata``
    app_id: str | None = None  # Facebook ``message.app_id`` of the app that sent it
    admin_id: str | None = None  # Zalo ``sender.admin_id`` (reported for OA chat-tool sends)


@dataclass(frozen=True)
class MemberEvent:
    """Something a member did that is not a message: ``follow`` or ``unfollow`` (Zalo)."""

    channel: str
    page_id: str
    user_id: str
    kind: str
    platform_ts: dt.datetime | None = None


@dataclass(frozen=True)
class Ignored:
    """An event we receive but do not act on (read, delivery, reaction, standby ...)."""

    channel: str
    page_id: str
    kind: str


WebhookEvent = InboundMessage | PageEcho | MemberEvent | Ignored


class InvalidPayload(ValueError):
    """A webhook body that does not have the platform's documented shape (HTTP 400)."""


@dataclass(frozen=True)
class OutboundMessage:
    """A reply as stored in the outbox, handed to the channel's sender."""

    outbox_id: int
    message_id: int
    conversation_id: int
    page_id: str
    user_id: str
    author: str  # bot | staff | system: decides the messaging window rules
    text: str
    last_member_message_at: dt.datetime | None = None
    quick_replies: tuple[dict[str, str], ...] = field(default=())


class SendError(Exception):
    """A send that failed; ``retryable`` says whether the outbox should try again.

    ``retry_after`` (seconds) is the platform's own request to wait (rate limits).
    """

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class ChannelSender(Protocol):
    """Delivers one outbound message; returns the platform's message id."""

    async def send(self, message: OutboundMessage) -> str: ...

    async def typing(self, page_id: str, user_id: str) -> None:
        """Show the member that the bot is working (best effort; may do nothing)."""

"""Turning Rasa's REST webhook response into replies.

Actions (``actions/``) and the domain's canned responses send a ``custom`` payload with
``kind``, ``text``, ``quick_replies`` and optionally ``faq`` and ``handoff``; plain texts and
buttons are accepted too. See docs/architecture.md, "Bot reply contract".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.ops.outbox import Reply

MAX_QUICK_REPLIES = 13


@dataclass(frozen=True)
class Turn:
    """What the bot says for one member message, and whether it hands over to staff."""

    replies: tuple[Reply, ...]
    handoff_reason: str | None
    feedback: str | None = None  # helpful | wrong: the member's verdict on the last answer
    topic: str | None = None  # with a handoff: the FAQ entry the bot guessed


def _quick_replies(items: Any) -> tuple[dict[str, str], ...]:
    out = []
    for item in items or []:
        if isinstance(item, dict) and item.get("title") and item.get("payload"):
            out.append({"title": str(item["title"]), "payload": str(item["payload"])})
    return tuple(out[:MAX_QUICK_REPLIES])


def parse_turn(messages: list[dict[str, Any]], in_reply_to: int) -> Turn:
    """Replies from Rasa's ``/webhooks/rest/webhook`` response for message ``in_reply_to``."""
    replies: list[Reply] = []
    handoff_reason: str | None = None
    feedback: str | None = None
    topic: str | None = None
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict):
            if custom.get("feedback") in ("helpful", "wrong"):
                feedback = str(custom["feedback"])
            handoff = custom.get("handoff")
            if isinstance(handoff, dict):
                handoff_reason = str(handoff.get("reason") or "bot")
                topic = str(handoff["topic"]) if handoff.get("topic") else topic
            text = str(custom.get("text") or "")
            kind = str(custom.get("kind") or "text")
            quick = _quick_replies(custom.get("quick_replies"))
            data: dict[str, Any] = {"in_reply_to": in_reply_to}
            if custom.get("faq"):
                data["faq"] = str(custom["faq"])
        else:
            text = str(message.get("text") or "")
            kind = "text"
            quick = _quick_replies(message.get("buttons"))
            data = {"in_reply_to": in_reply_to}
        if text:
            replies.append(Reply("bot", kind, text, quick, data))
    return Turn(tuple(replies), handoff_reason, feedback, topic)

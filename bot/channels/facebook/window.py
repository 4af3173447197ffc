"""Messenger's messaging window: when, and how, a reply may be sent (platforms.md §5.1).

Any reply within 24 hours of the member's last message goes as ``RESPONSE``. From 24 hours to
7 days only a person may answer, with the ``HUMAN_AGENT`` tag, and only if the page's app has
Meta's Human Agent feature. Bot messages never use the tag. After 7 days nothing may be sent
until the member writes again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STANDARD_WINDOW = dt.timedelta(hours=24)
HUMAN_AGENT_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class Permit:
    """How to send: ``messaging_type`` and, for ``MESSAGE_TAG``, the ``tag``."""

    messaging_type: str
    tag: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a reply may not be sent (shown to staff)."""

    reason: str


def permit(
    *, author: str, last_member_at: dt.datetime | None, now: dt.datetime, human_agent: bool
) -> Permit | Refusal:
    """Whether a reply by ``author`` (bot, staff or system) may go out now, and how."""
    if last_member_at is None:
        return Refusal("Thành viên chưa nhắn tin cho trang nên không thể gửi tin nhắn.")
    elapsed = now - last_member_at
    if elapsed <= STANDARD_WINDOW:
        return Permit("RESPONSE")
    if author != "staff":
        return Refusal(
            "Quá 24 giờ kể từ tin nhắn cuối của thành viên: Messenger không cho gửi tin tự động."
        )
    if not human_agent:
        return Refusal(
            "Quá 24 giờ kể từ tin nhắn cuối của thành viên: cần tính năng Human Agent của Meta "
            "để cán bộ trả lời (trang này chưa bật)."
        )
    if elapsed <= HUMAN_AGENT_WINDOW:
        return Permit("MESSAGE_TAG", "HUMAN_AGENT")
    return Refusal(
        "Quá 7 ngày kể từ tin nhắn cuối của thành viên: Messenger không cho gửi tin nữa cho đến "
        "khi thành viên nhắn lại."
    )

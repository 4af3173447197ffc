"""What a deadline warning says (Vietnamese, for union staff) and its webhook payload."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNEL_NAMES = {"facebook": "Facebook", "zalo": "Zalo", "sandbox": "chat thử"}


@dataclass(frozen=True)
class Alert:
    """One warning about one question, with what staff need to act on it."""

    kind: str  # due_<n>h | window | breach
    question_id: int
    conversation_id: int
    channel: str
    page_id: str
    deadline: dt.datetime
    raised_at: dt.datetime


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%H:%M %d/%m/%Y")


def subject(alert: Alert) -> str:
    """A one-line summary (e-mail subject)."""
    where = f"{CHANNEL_NAMES.get(alert.channel, alert.channel)} {alert.page_id}"
    if alert.kind == "breach":
        return f"[Quá hạn] Câu hỏi #{alert.question_id} ({where}) chưa được trả lời"
    if alert.kind == "window":
        return f"[Sắp hết khung nhắn tin] Câu hỏi #{alert.question_id} ({where})"
    left = alert.deadline - alert.raised_at
    hours = max(0, round(left.total_seconds() / 3600))
    return f"[Còn {hours} giờ] Câu hỏi #{alert.question_id} ({where})"


def body(alert: Alert) -> str:
    """The full text of the warning."""
    if alert.kind == "breach":
        what = f"Câu hỏi đã quá hạn trả lời lúc {_local(alert.deadline)} mà chưa có câu trả lời."
    elif alert.kind == "window":
        what = (
            f"Khung nhắn tin của nền tảng với thành viên sẽ đóng lúc {_local(alert.deadline)}. "
            "Sau đó có thể không gửi được câu trả lời cho đến khi thành viên nhắn lại."
        )
    else:
        what = f"Câu hỏi cần được trả lời trước {_local(alert.deadline)}."
    return (
        f"{subject(alert)}\n\n{what}\n\n"
        f"Cuộc trò chuyện số {alert.conversation_id} trên "
        f"{CHANNEL_NAMES.get(alert.channel, alert.channel)} (trang {alert.page_id}).\n"
    )


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The JSON posted to ``ALERT_WEBHOOK_URL``."""
    return {
        "kind": alert.kind,
        "question_id": alert.question_id,
        "conversation_id": alert.conversation_id,
        "channel": alert.channel,
        "page_id": alert.page_id,
        "deadline": alert.deadline.isoformat(),
        "raised_at": alert.raised_at.isoformat(),
        "text": subject(alert),
    }

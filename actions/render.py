"""What the bot says, as the ``custom`` payload the gateway renders for each channel.

Payload: ``{"kind", "text", "quick_replies": [{"title", "payload"}], "faq"?, "handoff"?}``.
Quick-reply titles stay within Messenger's 20 characters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.db.models import FaqEntry

HELPFUL = {"title": "Hữu ích", "payload": "/feedback_helpful"}
WRONG = {"title": "Chưa đúng", "payload": "/feedback_wrong"}
HUMAN = {"title": "Gặp cán bộ", "payload": "/request_human"}

HANDOFF_TEXT = {
    "member_request": "Mình đã chuyển cuộc trò chuyện tới cán bộ công đoàn.",
    "feedback_wrong": "Xin lỗi bạn vì câu trả lời chưa đúng. Mình đã chuyển câu hỏi tới cán bộ "
    "công đoàn.",
    "sensitive": "Vì đây là việc ảnh hưởng trực tiếp tới quyền lợi của bạn, mình đã chuyển tới "
    "cán bộ công đoàn để hỗ trợ riêng.",
    "not_understood": "Mình chưa hiểu rõ câu hỏi nên đã chuyển tới cán bộ công đoàn.",
    "unknown_choice": "Mình đã chuyển câu hỏi của bạn tới cán bộ công đoàn.",
}
HANDOFF_PROMISE = (
    " Cán bộ sẽ trả lời bạn trong vòng 24 giờ. Bạn có thể nhắn thêm tình huống cụ thể (tên công "
    "ty, thời gian, giấy tờ liên quan) để cán bộ hỗ trợ nhanh hơn."
)


def _date(entry: FaqEntry) -> str:
    return entry.effective_from.strftime("%d/%m/%Y")


def answer(entry: FaqEntry) -> dict[str, Any]:
    """The FAQ answer with its legal source and the date it applies from."""
    applies = f"Áp dụng từ: {_date(entry)}"
    if entry.effective_note:
        applies += f" ({entry.effective_note})"
    text = f"{entry.answer}\n\nCăn cứ: {entry.legal_source}.\n{applies}."
    return {
        "kind": "answer",
        "faq": entry.slug,
        "text": text,
        "quick_replies": [HELPFUL, WRONG, HUMAN],
    }


def clarify(entries: Sequence[FaqEntry]) -> dict[str, Any]:
    """Ask which topic the member means, offering the best guesses as quick replies."""
    if not entries:
        return {
            "kind": "clarify",
            "quick_replies": [HUMAN],
            "text": "Xin lỗi, mình chưa hiểu câu hỏi. Bạn có thể hỏi lại rõ hơn, ví dụ "
            "«lương tối thiểu vùng 2026 là bao nhiêu», hoặc bấm «Gặp cán bộ».",
        }
    lines = [f"{i}. {e.question}" for i, e in enumerate(entries, 1)]
    choices = [
        {
            "title": f"Câu {i}",
            "payload": "/choose_faq" + json.dumps({"faq_slug": e.slug}, separators=(",", ":")),
        }
        for i, e in enumerate(entries, 1)
    ]
    text = "Có phải bạn muốn hỏi một trong những câu sau?\n" + "\n".join(lines)
    return {"kind": "clarify", "text": text, "quick_replies": [*choices, HUMAN]}


def handoff(reason: str, topic: str | None = None) -> dict[str, Any]:
    """Tell the member a union officer takes over, and signal the gateway to escalate.

    ``topic``: the FAQ entry the bot thinks the question is about, shown to staff.
    """
    text = HANDOFF_TEXT.get(reason, HANDOFF_TEXT["member_request"]) + HANDOFF_PROMISE
    signal: dict[str, Any] = {"reason": reason}
    if topic:
        signal["topic"] = topic
    payload = {"kind": "handoff", "text": text, "handoff": signal}
    if reason == "feedback_wrong":
        payload["feedback"] = "wrong"
    return payload

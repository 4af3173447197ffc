"""Zalo OA's consultation-message window (platforms.md §5.2, partly UNCONFIRMED).

Within 48 hours of the member's last interaction replies are free; from 48 hours to 7 days they
are allowed but billed to the OA; after 7 days Zalo refuses them (error -230). The gateway sends
in the first two cases and records when a reply is billed; it refuses the third itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FREE_WINDOW = dt.timedelta(hours=48)
MAX_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class Permit:
    """The reply may go; ``billed`` when it falls outside the free 48 hours."""

    billed: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a reply may not be sent (shown to staff)."""

    reason: str


def permit(*, last_member_at: dt.datetime | None, now: dt.datetime) -> Permit | Refusal:
    """Whether a reply may go out now."""
    if last_member_at is None:
        return Refusal("Thành viên chưa nhắn tin cho OA nên không thể gửi tin tư vấn.")
    elapsed = now - last_member_at
    if elapsed <= FREE_WINDOW:
        return Permit()
    if elapsed <= MAX_WINDOW:
        return Permit(billed=True)
    return Refusal(
        "Quá 7 ngày kể từ lần tương tác cuối của thành viên: Zalo không cho OA gửi tin tư vấn "
        "cho đến khi thành viên nhắn lại."
    )

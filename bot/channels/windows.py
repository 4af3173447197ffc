"""Whether staff can reply in a conversation now, and how, per channel (for the console)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.channels.facebook import window as facebook_window
from bot.channels.zalo import window as zalo_window


@dataclass(frozen=True)
class StaffWindow:
    """What the console shows before a staff member replies."""

    can_reply: bool
    note: str


def staff_window(
    channel: str, last_member_at: dt.datetime | None, now: dt.datetime, human_agent: bool
) -> StaffWindow:
    """The reply window for a staff reply on ``channel``."""
    if channel == "facebook":
        got = facebook_window.permit(
            author="staff", last_member_at=last_member_at, now=now, human_agent=human_agent
        )
        if isinstance(got, facebook_window.Refusal):
            return StaffWindow(False, got.reason)
        if got.tag:
            return StaffWindow(
                True, "Quá 24 giờ: tin được gửi với thẻ HUMAN_AGENT (tối đa 7 ngày)."
            )
        return StaffWindow(True, "Trong 24 giờ kể từ tin nhắn cuối của thành viên.")
    if channel == "zalo":
        zalo = zalo_window.permit(last_member_at=last_member_at, now=now)
        if isinstance(zalo, zalo_window.Refusal):
            return StaffWindow(False, zalo.reason)
        if zalo.billed:
            return StaffWindow(True, "Quá 48 giờ: Zalo tính phí tin tư vấn này (tối đa 7 ngày).")
        return StaffWindow(True, "Trong 48 giờ miễn phí của Zalo.")
    return StaffWindow(True, "Kênh chat thử: không giới hạn thời gian.")

"""Longest text each channel accepts in one message; longer replies are split when stored."""

from __future__ import annotations

TEXT_LIMITS = {
    "facebook": 1999,  # Send API: "UTF-8 and less than 2000 characters"
    "zalo": 2000,  # OA consultation messages: 2,000 characters
}
DEFAULT_TEXT_LIMIT = 2000


def text_limit(channel: str) -> int:
    """The channel's limit."""
    return TEXT_LIMITS.get(channel, DEFAULT_TEXT_LIMIT)

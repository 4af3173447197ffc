"""Replies this process has recorded as sent: the platforms' echoes of them need no storing.

Messenger (and Zalo) report each message the page sends back to the webhook. For one of our
own replies whose send is already recorded, the echo changes nothing, yet storing and expanding
it cost about as much as a member's message. The webhook leaves such echoes out. What is
remembered is per process and lost on restart; an echo it does not cover (another gateway's
send, one arriving before its send's response, one after a restart) is stored and expanded as
before, where it confirms the send or is recognised as ours.
"""

from __future__ import annotations

from collections.abc import Hashable

from bot.channels.base import PageEcho
from bot.channels.facebook.send import outbox_id_from

SIZE = 4096


class RecentSends:
    """The newest ``size`` sends recorded here, by outbox item and by the platform's id."""

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._keys: dict[Hashable, None] = {}  # insertion order: the oldest first

    def add(self, outbox_id: int, channel: str, platform_message_id: str | None) -> None:
        """Remember a send once its outcome is committed."""
        self._remember(("outbox", outbox_id))
        if platform_message_id:
            self._remember((channel, platform_message_id))

    def covers(self, echo: PageEcho) -> bool:
        """Whether the echo is of a send recorded here (so recording it would change nothing)."""
        outbox_id = outbox_id_from(echo.metadata)
        if outbox_id is not None and ("outbox", outbox_id) in self._keys:
            return True
        return (echo.channel, echo.platform_message_id) in self._keys

    def _remember(self, key: Hashable) -> None:
        self._keys[key] = None
        if len(self._keys) > self._size:
            del self._keys[next(iter(self._keys))]

"""Sandbox delivery: the chat page polls for sent replies, so sending only names the message."""

from __future__ import annotations

from bot.channels.base import OutboundMessage


class SandboxSender:
    """Marks a reply delivered; the member's browser fetches it from the sandbox API."""

    async def send(self, message: OutboundMessage) -> str:
        """Return the id under which the reply is delivered."""
        return f"sandbox-out-{message.message_id}"

    async def typing(self, page_id: str, user_id: str) -> None:
        """The chat page shows its own indicator while it waits."""

"""The only list of channels: name -> sender."""

from __future__ import annotations

from bot.channels.base import ChannelSender
from bot.channels.sandbox import CHANNEL as SANDBOX
from bot.channels.sandbox.send import SandboxSender


def build_senders() -> dict[str, ChannelSender]:
    """One sender per channel."""
    return {SANDBOX: SandboxSender()}

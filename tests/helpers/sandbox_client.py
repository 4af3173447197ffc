"""A member in the sandbox chat, over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp


class Member:
    """Posts messages and waits for replies like the /chat page does."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base = base_url
        self.session = uuid.uuid4().hex
        self.seen = 0

    async def say(
        self, text: str, client_id: str | None = None, payload: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session": self.session,
            "text": text,
            "client_id": client_id or uuid.uuid4().hex,
        }
        if payload:
            body["payload"] = payload
        async with self.http.post(f"{self.base}/api/sandbox/messages", json=body) as response:
            assert response.status in (200, 202), await response.text()
            return await response.json()

    async def messages(self, after: int = 0) -> dict[str, Any]:
        url = f"{self.base}/api/sandbox/messages?session={self.session}&after={after}"
        async with self.http.get(url) as response:
            assert response.status == 200
            return await response.json()

    async def replies(self, count: int = 1, within: float = 60.0) -> list[dict[str, Any]]:
        """Wait for ``count`` new bot, staff or system messages."""
        deadline = time.monotonic() + within
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            data = await self.messages(self.seen)
            for message in data["messages"]:
                self.seen = max(self.seen, message["id"])
                if message["author"] != "member":
                    found.append(message)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)
        raise AssertionError(f"expected {count} replies, got {found}")

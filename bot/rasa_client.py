"""HTTP client for the Rasa server's REST channel."""

from __future__ import annotations

from typing import Any

import aiohttp


class RasaUnavailable(Exception):
    """Rasa could not be reached or did not answer properly; the message will be retried."""


class RasaClient:
    """Sends one member message to Rasa and returns the bot's messages."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/webhooks/rest/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def turn(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run one bot turn for ``sender_id``."""
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        try:
            async with self._http.post(self._url, json=body, timeout=self._timeout) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                result = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(result, list):
            raise RasaUnavailable("Rasa answered something other than a list of messages")
        return [m for m in result if isinstance(m, dict)]

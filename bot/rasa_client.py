"""HTTP client for the REST channel of one or several Rasa servers (replicas).

Every replica shares the tracker store (PostgreSQL) and the lock store (Redis), so any of them
can serve any conversation. Each conversation still goes to its own replica, chosen by a hash of
the sender id, so that one member's turns normally land on the same process; when that replica
cannot be reached the turn goes to the next one in the conversation's order.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

REST_PATH = "/webhooks/rest/webhook"
# A replica that does not accept a connection this fast counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5.0
# A replica that failed is tried after the others for this long (in this process).
SUSPECT_SECONDS = 30.0
# Answers meaning this replica cannot take the turn now (409: Rasa has no model loaded).
FAILOVER_STATUSES = frozenset({409, 502, 503, 504})


class RasaUnavailable(Exception):
    """Rasa could not be reached or did not answer properly; the message will be retried."""


class _ReplicaFailed(Exception):
    """This replica could not take the turn; another one may."""


def replica_order(base_urls: Sequence[str], sender_id: str) -> list[str]:
    """The replicas in the order to try for ``sender_id`` (rendezvous hashing).

    Each replica gets a score from a SHA-256 of its URL and the sender id; the highest score
    first. The order is the same in every process and whatever order the URLs are listed in,
    and removing a replica moves only the conversations that preferred it.
    """

    def score(base_url: str) -> int:
        digest = hashlib.sha256(f"{base_url}\n{sender_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    return sorted(base_urls, key=score, reverse=True)


class RasaClient:
    """Sends one member message to Rasa and returns the bot's messages."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_urls: Sequence[str],
        timeout: float,
        *,
        suspect_seconds: float = SUSPECT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_urls:
            raise ValueError("at least one Rasa URL is needed")
        self._http = http
        self._base_urls = tuple(url.rstrip("/") for url in base_urls)
        self._timeout = timeout
        self._suspect_seconds = suspect_seconds
        self._clock = clock
        self._failed_at: dict[str, float] = {}

    def replicas_for(self, sender_id: str) -> list[str]:
        """The replicas to try for ``sender_id``: its own order, recently failed ones last."""
        now = self._clock()

        def suspect(base_url: str) -> bool:
            return now - self._failed_at.get(base_url, -math.inf) < self._suspect_seconds

        return sorted(replica_order(self._base_urls, sender_id), key=suspect)

    async def turn(
        self, sender_id: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run one bot turn for ``sender_id``.

        The whole turn, failovers included, takes at most ``timeout`` seconds, so a worker's
        lease outlasts it whatever the number of replicas.
        """
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        deadline = self._clock() + self._timeout
        failures = []
        for base_url in self.replicas_for(sender_id):
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            try:
                result = await self._post(base_url, body, remaining)
            except _ReplicaFailed as exc:
                self._failed_at[base_url] = self._clock()
                failures.append(f"{base_url}: {exc}")
                log.warning("Rasa replica %s failed (%s)", base_url, exc)
                continue
            self._failed_at.pop(base_url, None)
            return result
        raise RasaUnavailable("no Rasa replica answered: " + "; ".join(failures))

    async def _post(
        self, base_url: str, body: dict[str, Any], seconds: float
    ) -> list[dict[str, Any]]:
        """One request to one replica; ``_ReplicaFailed`` when another replica may do better."""
        timeout = aiohttp.ClientTimeout(
            total=seconds, sock_connect=min(seconds, CONNECT_TIMEOUT_SECONDS)
        )
        try:
            async with self._http.post(
                base_url + REST_PATH, json=body, timeout=timeout
            ) as response:
                if response.status in FAILOVER_STATUSES:
                    raise _ReplicaFailed(f"HTTP {response.status}")
                if response.status != 200:
                    raise RasaUnavailable(f"{base_url} answered HTTP {response.status}")
                result = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise _ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaUnavailable(f"{base_url}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, list):
            raise RasaUnavailable(f"{base_url} answered something other than a list of messages")
        return [m for m in result if isinstance(m, dict)]

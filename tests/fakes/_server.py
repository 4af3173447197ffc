"""Shared machinery for the fake platform servers: lifecycle, clock, records, failure queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real wall clock, timezone-aware UTC (the default clock of the fakes)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake received it.

    ``body`` is the parsed JSON value for JSON requests, a ``dict[str, str]`` for form-encoded
    requests, ``None`` for an empty body, and the raw text when the body could not be parsed.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    content_type: str
    body: Any
    time: datetime


@dataclass(frozen=True)
class Rejection:
    """A request the fake refused, why, and the error response it sent back."""

    request: RecordedRequest
    reason: str
    status: int
    response: dict[str, Any]


@dataclass(frozen=True)
class InjectedFailure:
    """A request answered by a failure queued with ``fail_next``."""

    kind: str
    request: RecordedRequest


@dataclass(frozen=True)
class _Queued:
    kind: str
    delay: float | None


class FakeServer:
    """Base class: an aiohttp app served on 127.0.0.1 with an ephemeral port.

    Subclasses set ``FAILURE_KINDS`` and implement ``_routes``.
    """

    FAILURE_KINDS: frozenset[str] = frozenset()

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or utc_now
        self.requests: list[RecordedRequest] = []
        self.rejected: list[Rejection] = []
        self.injected: list[InjectedFailure] = []
        self._failures: deque[_Queued] = deque()
        self._outage: _Queued | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._url: str | None = None

    # lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._url

    async def start(self) -> None:
        """Start serving on 127.0.0.1 with a port chosen by the OS."""
        app = web.Application()
        self._routes(app)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Release hanging requests and stop serving."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # failure queue -----------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, *, delay: float | None = None) -> None:
        """Answer the next ``times`` send requests with the failure ``kind``.

        Failures queue up in call order and are consumed one per send request, before the
        token and the body are checked. ``delay`` only matters for ``"timeout"``: ``None``
        hangs until the fake is closed and the request is never processed; a number of seconds
        hangs that long and then processes the request normally (so a client that gave up may
        still have caused a delivery, as with the real platforms).
        """
        if kind not in self.FAILURE_KINDS:
            raise ValueError(
                f"unknown failure kind {kind!r}; use one of {sorted(self.FAILURE_KINDS)}"
            )
        if times < 1:
            raise ValueError("times must be at least 1")
        self._failures.extend(_Queued(kind, delay) for _ in range(times))

    def start_outage(self, kind: str, *, delay: float | None = None) -> None:
        """Answer every send request with the failure ``kind`` until ``end_outage``."""
        if kind not in self.FAILURE_KINDS:
            raise ValueError(
                f"unknown failure kind {kind!r}; use one of {sorted(self.FAILURE_KINDS)}"
            )
        self._outage = _Queued(kind, delay)

    def end_outage(self) -> None:
        """Serve normally again (queued ``fail_next`` failures still apply)."""
        self._outage = None

    @property
    def pending_failures(self) -> list[str]:
        """Kinds of the queued failures not yet consumed, in order."""
        return [queued.kind for queued in self._failures]

    def _take_failure(self, request: RecordedRequest) -> _Queued | None:
        if self._outage is not None:
            queued = self._outage
        elif self._failures:
            queued = self._failures.popleft()
        else:
            return None
        self.injected.append(InjectedFailure(queued.kind, request))
        return queued

    async def _hang(self, delay: float | None) -> bool:
        """Wait ``delay`` seconds (forever if None); False if the fake closed meanwhile."""
        try:
            await asyncio.wait_for(self._closing.wait(), delay)
        except TimeoutError:
            return True
        return False

    # recording ---------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            content_type=request.content_type,
            body=_parse_body(request.content_type, raw),
            time=self.clock(),
        )
        self.requests.append(recorded)
        return recorded

    def _reject(
        self,
        request: RecordedRequest,
        reason: str,
        payload: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.rejected.append(Rejection(request, reason, status, payload))
        return web.json_response(payload, status=status, headers=headers)


def _parse_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    with contextlib.suppress(ValueError):
        return json.loads(text)
    return text

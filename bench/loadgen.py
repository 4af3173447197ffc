"""A small HTTP/1.1 load generator: keep-alive connections, closed and open loop.

Written on raw asyncio streams, so that its cost per request stays far below an aiohttp
server's: the same generator drives the bare handler and the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RequestMaker = Callable[[], bytes]


class HttpError(Exception):
    """A response the generator cannot read."""


class Connection:
    """One keep-alive connection sending one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """Connect to ``host:port``."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send a whole request and read the response; its status code and body."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        try:
            status = int(head[9:12])
        except ValueError as exc:
            raise HttpError(f"not an HTTP response: {head[:40]!r}") from exc
        return status, await self._reader.readexactly(content_length(head))

    def close(self) -> None:
        """Close the socket."""
        self._writer.close()


def content_length(head: bytes) -> int:
    """The Content-Length of a response head (responses without one are refused)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise HttpError("response without Content-Length")


def http_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one HTTP/1.1 POST."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Run:
    """What one load run observed. Times in seconds (``time.perf_counter``)."""

    seconds: float = 0.0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # per accepted request
    service: list[float] = field(default_factory=list)  # open loop: from actual send to answer
    connections: int = 0

    @property
    def rate(self) -> float:
        """Accepted requests per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def record(self, status: int, latency: float) -> None:
        if status == 200:
            self.ok += 1
            self.latencies.append(latency)
        else:
            self.errors += 1


async def closed_loop(
    host: str, port: int, make: RequestMaker, connections: int, seconds: float
) -> Run:
    """``connections`` clients, each sending its next request as soon as it has an answer."""
    run = Run(connections=connections)
    conns = [await Connection.open(host, port) for _ in range(connections)]
    start = time.perf_counter()
    deadline = start + seconds

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            request = make()
            sent = time.perf_counter()
            status, _ = await conn.exchange(request)
            run.record(status, time.perf_counter() - sent)

    try:
        await asyncio.gather(*(client(conn) for conn in conns))
    finally:
        run.seconds = time.perf_counter() - start
        for conn in conns:
            conn.close()
    return run


async def open_loop(
    host: str,
    port: int,
    make: RequestMaker,
    rate: float,
    seconds: float,
    max_connections: int = 512,
) -> Run:
    """Requests at a fixed arrival rate, whatever the answers take.

    Latency counts from each request's scheduled time, so a server (or generator) that falls
    behind shows it in the figures (no coordinated omission). A request waits for a free
    connection; a new one is opened while fewer than ``max_connections`` exist.
    """
    run = Run()
    idle = [await Connection.open(host, port) for _ in range(min(16, max_connections))]
    opened = len(idle)
    slots = asyncio.Semaphore(max_connections)
    total = max(1, round(rate * seconds))
    interval = 1.0 / rate
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        nonlocal opened
        async with slots:
            if idle:
                conn = idle.pop()
            else:
                conn = await Connection.open(host, port)
                opened += 1
            request = make()
            sent = time.perf_counter()
            status, _ = await conn.exchange(request)
            done = time.perf_counter()
            idle.append(conn)
        run.record(status, done - due)
        if status == 200:
            run.service.append(done - sent)

    start = time.perf_counter()
    for number in range(total):
        due = start + number * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    try:
        await asyncio.gather(*tasks)
    finally:
        run.seconds = time.perf_counter() - start
        run.connections = opened
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()
    return run

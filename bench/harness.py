"""Processes and fakes for the benchmarks: databases, the bare handler, the gateway, the stack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from aiohttp import web

from bench.webhooks import APP_ID, APP_SECRET, PAGE_ID, PAGE_TOKEN, facebook_env
from tests.fakes.graph_api import FakeGraphApi, GraphMessage
from tests.helpers.databases import create_pg_database, drop_pg_database, sqlite_url
from tests.helpers.postgres import PostgresServer
from tools.paths import PROJECT_BIN, VAR
from tools.stack import Ports, Running, Service, free_port, run_stack, services

WORK = VAR / "bench"
BACKENDS = ("sqlite", "postgresql")


def workdir(name: str) -> Path:
    """A fresh folder under var/bench/ for one run's database and logs."""
    path = WORK / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


@contextlib.asynccontextmanager
async def database(backend: str, folder: Path) -> AsyncIterator[str]:
    """A new empty database: a SQLite file in ``folder`` or a throwaway PostgreSQL database."""
    if backend == "sqlite":
        yield sqlite_url(folder)
        return
    server = PostgresServer()
    name, url = await create_pg_database(server)
    try:
        yield url
    finally:
        await drop_pg_database(server, name)
        server.stop()


class Graph(FakeGraphApi):
    """The fake Send API for the benchmark's page, which also wakes whoever waits for a reply."""

    def __init__(self) -> None:
        super().__init__({PAGE_ID: PAGE_TOKEN})
        self.by_psid: dict[str, list[GraphMessage]] = defaultdict(list)
        self._changed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._indexed = 0  # messages of ``sent`` already in ``by_psid``

    async def _messages(self, request: web.Request) -> web.Response:
        response = await super()._messages(request)
        for message in self.sent[self._indexed :]:
            self.by_psid[message.psid].append(message)
            self._changed[message.psid].set()
        self._indexed = len(self.sent)
        return response

    async def reply_number(self, psid: str, number: int, within: float) -> GraphMessage:
        """Wait until ``psid`` has had ``number`` messages (counting from 1); the last one."""
        async with asyncio.timeout(within):
            while len(self.by_psid[psid]) < number:
                event = self._changed[psid]
                event.clear()
                await event.wait()
        return self.by_psid[psid][number - 1]


def bare_service(port: int) -> Service:
    """The bare aiohttp handler as a process."""
    argv = [str(PROJECT_BIN / "python"), "-m", "bench.bare", str(port)]
    return Service("bare", argv, dict(os.environ), f"http://127.0.0.1:{port}/healthz")


def gateway_service(
    port: int, database_url: str, rasa_url: str, extra_env: Mapping[str, str]
) -> Service:
    """The real gateway process (``python -m bot``) with the page configured."""
    ports = Ports(gateway=port)
    return services(ports, database_url, extra_env, rasa_url=rasa_url)[0]


@contextlib.asynccontextmanager
async def processes(folder: Path, *wanted: Service) -> AsyncIterator[Running]:
    """Start ``wanted`` (each healthy before the next); stop them all on exit."""
    running = Running(folder / "log")
    try:
        for service in wanted:
            await asyncio.to_thread(running.start, service)
        yield running
    finally:
        await asyncio.to_thread(running.stop_all)


def gateway_env(graph: Graph, **extra: str) -> dict[str, str]:
    """Gateway settings: the page on the fake Graph API, plus ``extra``.

    All the load comes from one address, where Meta's deliveries come from many: the webhook
    rate limit per client address is raised out of the way (the limiter still runs).
    """
    return {**facebook_env(graph.base_url), "RATE_LIMIT_WEBHOOK": "1000000/second", **extra}


@contextlib.asynccontextmanager
async def full_stack(
    folder: Path, database_url: str, graph: Graph
) -> AsyncIterator[tuple[Running, Ports]]:
    """Rasa, the action server and the gateway (``tools.stack.run_stack``), the page configured.

    As Messenger does, the fake sends each reply back to the webhook as a ``message_echoes``
    event.
    """
    ports = Ports(free_port(), free_port(), free_port())
    stack = run_stack(ports, database_url, folder / "log", gateway_env(graph))
    running = await asyncio.to_thread(stack.__enter__)
    webhook = f"http://127.0.0.1:{ports.gateway}/webhooks/facebook"
    graph.echo_to([webhook], APP_SECRET, int(APP_ID))
    try:
        yield running, ports
    finally:
        await asyncio.to_thread(stack.__exit__, None, None, None)


def pids(running: Running) -> dict[str, int]:
    """Process ids by service name."""
    return {name: proc.pid for name, proc in running.procs.items()}

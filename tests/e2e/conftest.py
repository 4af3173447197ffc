"""The real stack: trained Rasa server, action server and gateway as separate processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.databases import create_pg_database, drop_pg_database, sqlite_url
from tests.helpers.postgres import PostgresServer
from tests.helpers.proxy import Proxy
from tools.paths import MODEL
from tools.stack import Ports, Running, free_port, run_stack


@dataclass
class Stack:
    """A running stack and what tests need to reach it."""

    base_url: str
    database_url: str
    rasa_proxy: Proxy
    running: Running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp(f"stack-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        database_url = sqlite_url(workdir)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        pg_name, database_url = asyncio.run(create_pg_database(server))
    ports = Ports(free_port(), free_port(), free_port())
    proxy = Proxy(free_port(), ports.rasa)
    proxy.up()
    env = {"WORKER_POLL_SECONDS": "0.2", "LOG_LEVEL": "INFO"}
    try:
        with run_stack(
            ports, database_url, workdir / "log", env, rasa_url=f"http://127.0.0.1:{proxy.port}"
        ) as running:
            yield Stack(f"http://127.0.0.1:{ports.gateway}", database_url, proxy, running)
    finally:
        proxy.close()
        if pg_name:
            asyncio.run(drop_pg_database(request.getfixturevalue("postgres"), pg_name))

"""Three gateway processes on one PostgreSQL, one of them killed while it holds work, and the
database itself restarted as after a crash, all under a load of Facebook messages.

Every message is processed once and answered in the order the member wrote; the dead gateway's
leases expire and the others finish its work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.db.models import DispatchJob
from bot.db.session import create_engine, session_factory
from tests.fakes.graph_api import FakeGraphApi
from tests.faults.harness import (
    APP_ID,
    APP_SECRET,
    PAGE_ID,
    PAGE_TOKEN,
    FacebookLoad,
    Processes,
    assert_each_answered_once_in_order,
    gateway_env,
    wait_until_quiet,
)
from tests.helpers.databases import create_pg_database
from tests.helpers.postgres import ThrowawayPostgres
from tests.helpers.proxy import BlackHole
from tools.paths import MODEL
from tools.stack import Running, free_port

pytestmark = pytest.mark.stack

LEASE_SECONDS = 15  # longer than the database restart, during which echoes cannot be recorded


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres()
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_gateways_share_one_postgres_through_a_dead_worker_and_a_database_restart(
    own_postgres: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory
):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("several-gateways")
    _, database_url = await create_pg_database(own_postgres)
    graph = FakeGraphApi({PAGE_ID: PAGE_TOKEN})
    await graph.start()
    ports = [free_port(), free_port(), free_port()]
    rasa_port = free_port()
    processes = Processes.plan(
        Running(workdir / "log"),
        ports,
        (rasa_port, free_port()),
        database_url,
        gateway_env(graph, LEASE_SECONDS),
        rasa_url=f"http://127.0.0.1:{rasa_port}",
    )
    webhooks = [f"http://127.0.0.1:{port}/webhooks/facebook" for port in ports]
    graph.echo_to(webhooks, APP_SECRET, APP_ID)
    engine = create_engine(database_url)
    db = session_factory(engine)
    try:
        with BlackHole() as hanging_rasa:
            # gateway-2's Rasa hangs, so its dispatchers hold leases when it is killed
            processes.named["gateway-2"].env["RASA_URL"] = hanging_rasa.url
            for name in ("gateway-1", "gateway-2", "gateway-3", "actions", "rasa"):
                await processes.start(name)
            doomed = processes.running.procs["gateway-2"].pid
            load = FacebookLoad(webhooks)
            async with load.during(members=12, count=5, gap=1.5):
                await asyncio.sleep(4)
                await processes.kill("gateway-2")
                async with db() as session:
                    held = (
                        await session.scalars(
                            select(DispatchJob.id).where(
                                DispatchJob.status == "pending",
                                DispatchJob.lease_owner.like(f"%:{doomed}:%"),
                            )
                        )
                    ).all()
                assert held, "the killed gateway held no lease; the test proves nothing"
                await asyncio.sleep(2)
                # down long enough for deliveries to meet it, then the members write on a while
                await asyncio.to_thread(own_postgres.restart, 2.0)
                await asyncio.sleep(2)
            await wait_until_quiet(db, graph, load, within=240)
            await asyncio.sleep(LEASE_SECONDS + 1)  # nothing is sent a second time
            await assert_each_answered_once_in_order(db, graph, load)
        async with db() as session:
            finished = await session.scalars(
                select(DispatchJob.status).where(DispatchJob.id.in_(held))
            )
            assert set(finished.all()) == {"done"}
        assert len(load.accepted) >= 60
        # the dead gateway and the restarting database refused deliveries, with 503: never a
        # 500, and never a 429 (the rate limits do not count our own failures)
        assert "HTTP 503" in load.refusals
        assert not {"HTTP 500", "HTTP 429"} & set(load.refusals), load.refusals
    finally:
        await processes.stop_all()
        await graph.close()
        await engine.dispose()

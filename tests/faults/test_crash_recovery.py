"""Crashes and outages of the real processes under a load of Facebook messages.

The gateway, the action server and Rasa are killed with SIGKILL in the middle of the load and
started again; Rasa and the Send API fail for a while and recover. Afterwards every message the
load got a 200 for is stored once, answered by the bot in one turn, and every reply reached the
(fake) Send API exactly once, in the order the member wrote. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.db.models import DispatchJob, OutboxItem
from bot.db.session import SessionFactory, create_engine, session_factory
from tests.fakes.graph_api import FakeGraphApi
from tests.faults.harness import (
    APP_ID,
    APP_SECRET,
    PAGE_ID,
    PAGE_TOKEN,
    Delivered,
    FacebookLoad,
    Processes,
    assert_each_answered_once_in_order,
    gateway_env,
    wait_until_quiet,
)
from tests.helpers.databases import create_pg_database, drop_pg_database, sqlite_url
from tests.helpers.proxy import Proxy
from tools.paths import MODEL
from tools.stack import Running, free_port

pytestmark = pytest.mark.stack

LEASE_SECONDS = 15  # longer than a gateway restart, during which echoes cannot be recorded


@dataclass
class FaultStack:
    """One gateway, the action server and Rasa (behind a proxy that can cut it off)."""

    processes: Processes
    webhook: str
    graph: FakeGraphApi
    rasa_proxy: Proxy
    db: SessionFactory
    accepted: dict[str, Delivered] = field(default_factory=dict)

    def load(self) -> FacebookLoad:
        """A load whose accepted messages add to those of earlier tests on this stack."""
        first = len({delivered.psid for delivered in self.accepted.values()})
        return FacebookLoad([self.webhook], accepted=self.accepted, first_member=first)


async def outage_felt(graph: FakeGraphApi, kind: str, at_least: float) -> None:
    """Let an outage last ``at_least`` seconds, and longer until a send has met it (the workers
    retry on their own backoff, so a short phase could pass without one)."""
    await asyncio.sleep(at_least)
    for _ in range(120):
        if any(failure.kind == kind for failure in graph.injected):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no send met the {kind} outage")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def fault_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FaultStack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp(f"faults-{request.param}")
    pg_name = None
    if request.param == "sqlite":
        database_url = sqlite_url(workdir)
    else:
        pg_name, database_url = await create_pg_database(request.getfixturevalue("postgres"))
    graph = FakeGraphApi({PAGE_ID: PAGE_TOKEN})
    await graph.start()
    gateway_port, rasa_port = free_port(), free_port()
    proxy = Proxy(free_port(), rasa_port)
    proxy.up()
    processes = Processes.plan(
        Running(workdir / "log"),
        [gateway_port],
        (rasa_port, free_port()),
        database_url,
        gateway_env(graph, LEASE_SECONDS),
        rasa_url=f"http://127.0.0.1:{proxy.port}",
    )
    webhook = f"http://127.0.0.1:{gateway_port}/webhooks/facebook"
    graph.echo_to([webhook], APP_SECRET, APP_ID)
    engine = create_engine(database_url)
    try:
        for name in ("gateway-1", "actions", "rasa"):
            await processes.start(name)
        yield FaultStack(processes, webhook, graph, proxy, session_factory(engine))
    finally:
        await processes.stop_all()
        proxy.close()
        await graph.close()
        await engine.dispose()
        if pg_name:
            await drop_pg_database(request.getfixturevalue("postgres"), pg_name)


async def test_killing_each_process_mid_load_loses_and_repeats_nothing(fault_stack: FaultStack):
    stack = fault_stack
    load = stack.load()
    async with load.during(members=8, count=6, gap=1.5):
        for name in ("gateway-1", "actions", "rasa"):
            await asyncio.sleep(2.5)
            await stack.processes.kill(name)
            await stack.processes.start(name)
    await wait_until_quiet(stack.db, stack.graph, load, within=240)
    await asyncio.sleep(LEASE_SECONDS + 1)  # a reply claimed by a dead worker is not resent
    await assert_each_answered_once_in_order(stack.db, stack.graph, load)
    assert len(load.accepted) >= 48
    # the faults were felt: deliveries refused while the gateway was down, turns retried
    assert load.refusals and "HTTP 500" not in load.refusals
    async with stack.db() as session:
        retried = await session.scalars(select(DispatchJob.id).where(DispatchJob.attempts > 1))
        assert retried.all()


async def test_rasa_and_the_send_api_down_for_a_while_then_every_reply_goes_out_once(
    fault_stack: FaultStack,
):
    stack = fault_stack
    load = stack.load()
    stack.rasa_proxy.down()
    loading = asyncio.create_task(load.run(members=4, count=4, gap=2.0))
    await asyncio.sleep(25)
    stack.graph.start_outage("500")  # the Send API fails as Rasa comes back
    stack.rasa_proxy.up()
    await outage_felt(stack.graph, "500", at_least=15)
    stack.graph.start_outage("timeout")  # then it hangs: our calls time out
    await outage_felt(stack.graph, "timeout", at_least=10)
    stack.graph.end_outage()
    await loading
    await wait_until_quiet(stack.db, stack.graph, load, within=180)
    await asyncio.sleep(LEASE_SECONDS + 1)
    await assert_each_answered_once_in_order(stack.db, stack.graph, load)
    async with stack.db() as session:
        items = (await session.scalars(select(OutboxItem))).all()
    assert max(item.attempts for item in items) > 2  # sends were retried through the outage
    injected = {failure.kind for failure in stack.graph.injected}
    assert {"500", "timeout"} <= injected

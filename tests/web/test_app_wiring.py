"""``bot.app`` wires the workers as the benchmarks measured them.

Wired otherwise, every turn would still work: the dispatchers would claim their own jobs
instead of taking the expander's handoff, or the workers' SQL would go through aiosqlite's
thread; only the benchmarks would show it. These tests show it first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import app as app_module
from bot.settings import Settings
from bot.web import keys
from tools.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(monkeypatch) -> dict[str, list[Any]]:
    """The dispatchers and expanders the app makes, and the loops it runs them in."""
    made: dict[str, list[Any]] = {"dispatchers": [], "expanders": [], "sweepers": [], "loops": []}

    class Dispatcher(app_module.Dispatcher):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made["dispatchers"].append(self)

    class DeliveryExpander(app_module.DeliveryExpander):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made["expanders"].append(self)

    class DeadlineSweeper(app_module.DeadlineSweeper):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made["sweepers"].append(self)

    real_run_forever = app_module.run_forever

    def run_forever(name: str, step: Any, waiter: Any, poll_seconds: float) -> Any:
        made["loops"].append((step, waiter))
        return real_run_forever(name, step, waiter, poll_seconds)

    monkeypatch.setattr(app_module, "Dispatcher", Dispatcher)
    monkeypatch.setattr(app_module, "DeliveryExpander", DeliveryExpander)
    monkeypatch.setattr(app_module, "DeadlineSweeper", DeadlineSweeper)
    monkeypatch.setattr(app_module, "run_forever", run_forever)
    return made


async def test_the_expander_hands_jobs_to_dispatchers_waiting_on_the_handoff(made, database_url):
    async with TestClient(TestServer(create_app(database_url))):
        (expander,) = made["expanders"]
        dispatchers = made["dispatchers"]
        assert len(dispatchers) == app_module.DISPATCH_WORKERS
        assert expander._handoff is not None
        waiters = {step.__self__: waiter for step, waiter in made["loops"]}
        for dispatcher in dispatchers:
            assert dispatcher._handoff is expander._handoff
            assert waiters[dispatcher] is dispatcher  # idle, it waits for a job handed over


async def test_on_sqlite_the_workers_run_their_sql_inline_and_the_console_does_not(
    made, database_url
):
    async with TestClient(TestServer(create_app(database_url))) as client:
        console = client.app[keys.SESSIONS].kw["bind"]
        workers = made["expanders"][0]._sessions.kw["bind"]
        assert all(d._sessions.kw["bind"] is workers for d in made["dispatchers"])
        # a sweep reads every open question: on a thread, not the loop
        assert made["sweepers"][0]._sessions.kw["bind"] is console
        if database_url.startswith("sqlite"):
            assert workers is not console
            assert workers.dialect.loaded_dbapi.inline
            assert not console.dialect.loaded_dbapi.inline
        else:
            assert workers is console  # asyncpg never holds the event loop up


def create_app(database_url: str) -> Any:
    settings = Settings(
        database_url=database_url,
        faq_dir=ROOT / "nlu_data" / "faq",
        rasa_url=f"http://127.0.0.1:{free_port()}",
    )
    return app_module.create_app(settings)

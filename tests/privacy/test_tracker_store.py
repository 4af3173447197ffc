"""Rasa's SQL tracker store on PostgreSQL, with the table Rasa itself creates (its own
SQLTrackerStore, run in .venv-rasa): export shows the member's events, erase and retention
delete them, and a tracker store that cannot be reached leaves everything as it was."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.db.models import Erasure
from bot.ops.privacy import TrackerEvents
from bot.workers.retention import RetentionPolicy, RetentionSweeper
from tests.helpers.databases import create_pg_database, drop_pg_database
from tests.helpers.postgres import PostgresServer
from tests.helpers.rasa_env import run_in_rasa_env
from tests.privacy import seed as data
from tests.privacy.commands import member_command
from tests.privacy.test_retention import conversations, count, dump, seeded
from tools.stack import free_port

MEMBER = ["facebook", data.PAGE, data.PSID]

RASA_SAVES_TURNS = """
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

spec = json.loads(sys.stdin.read())
store = SQLTrackerStore(
    Domain.empty(), dialect="postgresql", host="127.0.0.1", port=spec["port"], db=spec["db"],
    username="postgres",
)

async def main():
    for sender, text in spec["turns"]:
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, [])
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(text, {"name": "faq", "confidence": 0.9}))
        tracker.update(BotUttered("Trả lời", {"custom": {"kind": "answer"}}))
        await store.save(tracker)

asyncio.run(main())
"""


class Tracker:
    """A tracker database on the test server."""

    def __init__(self, server: PostgresServer, name: str) -> None:
        self.server = server
        self.name = name
        # a plain postgresql:// URL, as Rasa's own configuration would give it
        self.url = server.url(name).replace("postgresql+asyncpg://", "postgresql://")

    def save_turns(self, turns: list[tuple[int, str]]) -> None:
        said = [[str(sender), text] for sender, text in turns]
        spec = {"port": self.server.port, "db": self.name, "turns": said}
        run_in_rasa_env(["-c", RASA_SAVES_TURNS], json.dumps(spec), timeout=120)

    async def senders(self) -> dict[str, int]:
        connection = await asyncpg.connect(
            host="127.0.0.1", port=self.server.port, user="postgres", database=self.name
        )
        try:
            rows = await connection.fetch(
                "SELECT sender_id, count(*) AS n FROM events GROUP BY sender_id"
            )
        finally:
            await connection.close()
        return {row["sender_id"]: row["n"] for row in rows}


@pytest.fixture
async def tracker(postgres: PostgresServer) -> AsyncIterator[Tracker]:
    name, _ = await create_pg_database(postgres)
    yield Tracker(postgres, name)
    await drop_pg_database(postgres, name)


async def test_export_and_erase_reach_rasas_tracker_store(
    sessions, database_url, tracker, tmp_path
):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    tracker.save_turns(
        [(ids.old, data.FIRST_QUESTION), (ids.old, data.SECOND_QUESTION), (ids.recent, "Vùng 2?")]
    )
    assert await tracker.senders() == {str(ids.old): 6, str(ids.recent): 3}
    env = {"DATABASE_URL": database_url, "RASA_TRACKER_DB_URL": tracker.url}

    status, stdout, stderr = await member_command(["export", *MEMBER], tmp_path, env)
    assert status == 0, stderr
    [held] = json.loads(stdout)["conversations"]
    said = [e["data"]["text"] for e in held["rasa_tracker_events"] if e["type_name"] == "user"]
    assert said == [data.FIRST_QUESTION, data.SECOND_QUESTION]

    status, stdout, stderr = await member_command(["erase", *MEMBER], tmp_path, env)
    assert status == 0, stderr
    assert "6 sự kiện trong kho hội thoại của Rasa đã xoá" in stdout
    assert await tracker.senders() == {str(ids.recent): 3}


async def test_retention_deletes_the_tracker_rows_of_forgotten_conversations(sessions, tracker):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    tracker.save_turns([(ids.old, "a"), (ids.sandbox, "b"), (ids.recent, "c")])
    events = TrackerEvents(tracker.url)
    try:
        policy = RetentionPolicy(365, "anonymise")
        sweeper = RetentionSweeper(sessions, policy, events, lambda: now)
        done, _ = await sweeper.forget_batch()
    finally:
        await events.close()
    assert {f.conversation_id: f.tracker_events_deleted for f in done} == {
        ids.old: 3,
        ids.stickers: 0,
        ids.sandbox: 3,
    }
    assert await tracker.senders() == {str(ids.recent): 3}


async def test_an_unreachable_tracker_store_changes_nothing(sessions, database_url, tmp_path):
    now = dt.datetime.now(dt.UTC)
    ids = await seeded(sessions, now)
    before = await dump(sessions)
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/rasa"
    events = TrackerEvents(nowhere)
    try:
        policy = RetentionPolicy(365, "delete")
        sweeper = RetentionSweeper(sessions, policy, events, lambda: now)
        with pytest.raises((OSError, OperationalError, InterfaceError, DBAPIError)):
            await sweeper.forget_batch()
    finally:
        await events.close()
    assert await dump(sessions) == before

    # erase records the erasure first (for deliveries not expanded yet), then fails with
    # nothing anonymised
    env = {"DATABASE_URL": database_url, "RASA_TRACKER_DB_URL": nowhere}
    before = await dump(sessions, Erasure.__table__)
    status, _, _ = await member_command(["erase", *MEMBER], tmp_path, env)
    assert status != 0
    assert await dump(sessions, Erasure.__table__) == before
    assert await count(sessions, Erasure) == 1
    assert (await conversations(sessions))[ids.old].user_id == data.PSID

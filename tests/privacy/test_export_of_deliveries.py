"""An export also reads the member's words in deliveries acknowledged but not expanded yet.

On both databases, ``make member ARGS="export …"`` as a real process, with deliveries stored
as the webhook stores them (on SQLite in the receive log beside the file) and kept after a
failed expansion, then expanded as the gateway's worker does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy import insert

from bot.member_command import utc_now as now
from bot.ops import deliveries
from tests.privacy.commands import member_command
from tests.privacy.test_erasure_of_deliveries import (
    ERASED,
    OTHER,
    PAGE,
    SECRET_WORDS,
    delivery,
    erase,
    gateway,
)

MEMBER = ["facebook", PAGE, ERASED]  # erased only in the second test
OTHERS_WORDS = "luong toi thieu vung 1"
KEPT_WORDS = "cty chua dong bhxh 3 thang"


async def export(database_url: str, tmp_path) -> dict:
    status, stdout, stderr = await member_command(
        ["export", *MEMBER], tmp_path, {"DATABASE_URL": database_url}
    )
    assert status == 0, stderr
    assert OTHERS_WORDS not in stdout  # nobody else's words
    return json.loads(stdout)


def zalo_text(user_id: str, mid: str, text: str) -> bytes:
    """A Zalo ``user_send_text`` to an OA whose id is the Facebook page's."""
    event = {
        "event_name": "user_send_text",
        "app_id": "2553928453557884079",
        "sender": {"id": user_id},
        "recipient": {"id": PAGE},
        "message": {"text": text, "msg_id": mid},
        "timestamp": "1747301230145",
    }
    return json.dumps(event).encode()


async def keep(sessions, raw: bytes, received_at: dt.datetime, channel: str = "facebook") -> None:
    """A delivery kept in the table after failed expansions, not due for a while."""
    later = now() + dt.timedelta(hours=1)
    async with sessions() as session, session.begin():
        row = deliveries.received(channel, raw, received_at)
        await session.execute(
            insert(deliveries.TABLE), {**row, "attempts": 3, "next_attempt_at": later}
        )


async def test_export_reads_deliveries_not_expanded_yet_then_what_they_became(
    sessions, database_url, tmp_path
):
    async with gateway(sessions, database_url) as gw:
        await gw.acknowledge(delivery((ERASED, "m1", SECRET_WORDS), (OTHER, "m2", OTHERS_WORDS)))
        kept_at = now() - dt.timedelta(hours=2)
        await keep(sessions, delivery((ERASED, "m0", KEPT_WORDS)), kept_at)
        await keep(sessions, b'{"object": "page", "entry": "not a list"}', kept_at)
        await keep(sessions, b'{"event_name": "user_send_text"}', kept_at, channel="zalo")
        # the same ids on another channel are another member
        await keep(sessions, zalo_text(ERASED, "z1", OTHERS_WORDS), kept_at, channel="zalo")

        exported = await export(database_url, tmp_path)
        assert exported["conversations"] == []  # nothing expanded yet
        waiting = exported["not_expanded_yet"]
        assert [(e["kind"], e["from"], e["platform_message_id"], e["text"]) for e in waiting] == [
            ("message", "member", "m1", SECRET_WORDS),  # SQLite: the receive log's, read first
            ("message", "member", "m0", KEPT_WORDS),
        ]
        assert waiting[1]["received_at"] == kept_at.isoformat()
        assert exported["unreadable_deliveries_waiting"] == 2  # counted, whatever the channel

        if gw.log is not None:  # a busy gateway prunes expanded rows later: the cursor tells
            gw.log.prune = lambda _up_to: asyncio.sleep(0)  # type: ignore[method-assign]
        await gw.expand_all()
        exported = await export(database_url, tmp_path)
        assert [e["text"] for e in exported["not_expanded_yet"]] == [KEPT_WORDS]  # still kept
        [held] = exported["conversations"]
        assert [m["text"] for m in held["messages"]] == [SECRET_WORDS]


async def test_export_leaves_out_what_an_erasure_will_leave_out(sessions, database_url, tmp_path):
    async with gateway(sessions, database_url) as gw:
        await gw.acknowledge(delivery((ERASED, "m1", SECRET_WORDS), (OTHER, "m2", OTHERS_WORDS)))
        await erase(database_url, tmp_path)
        exported = await export(database_url, tmp_path)
    assert exported["not_expanded_yet"] == [] and exported["conversations"] == []
    assert SECRET_WORDS not in json.dumps(exported, ensure_ascii=False)

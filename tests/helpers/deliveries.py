"""How many stored webhook deliveries a gateway has not expanded yet."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.db.models import ReceiveLogCursor, WebhookDelivery
from bot.db.receive_log import IDENTITY, RECEIVED, receive_log_url
from bot.db.session import create_engine


async def unexpanded(database_url: str) -> int:
    """Rows in ``webhook_deliveries`` plus, on SQLite, receive log rows past the cursor."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            waiting = (
                await connection.execute(select(func.count()).select_from(WebhookDelivery))
            ).scalar_one()
            cursors = dict(
                (
                    await connection.execute(
                        select(ReceiveLogCursor.log_id, ReceiveLogCursor.last_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    log_url = receive_log_url(database_url)
    if log_url is None:
        return waiting
    log = create_engine(log_url)
    try:
        async with log.connect() as connection:
            log_id = (await connection.execute(select(IDENTITY.c.log_id))).scalar_one_or_none()
            if log_id is None:
                return waiting
            after = cursors.get(log_id, 0)
            query = select(func.count()).select_from(RECEIVED).where(RECEIVED.c.id > after)
            return waiting + (await connection.execute(query)).scalar_one()
    finally:
        await log.dispose()


async def wait_until_expanded(database_url: str, within: float = 10.0) -> None:
    """Until the gateway has expanded every delivery it stored."""
    for _ in range(int(within / 0.05)):
        if await unexpanded(database_url) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries still waiting to be expanded after {within:.0f} s")

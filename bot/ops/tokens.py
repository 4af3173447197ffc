"""Platform tokens: seeding, claiming a refresh, storing its result. Values arrive encrypted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Update, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import ChannelToken
from bot.ops.sql import insert_ignore


async def do_seed(
    session: AsyncSession,
    channel: str,
    account_id: str,
    refresh_token: str,
    seed_hash: str,
    now: dt.datetime,
) -> ChannelToken:
    """The account's token row, created from the configured refresh token on first use.

    A configured refresh token other than the one the row was seeded with means the account was
    re-authorized: the row starts again from it.
    """
    key = {"channel": channel, "account_id": account_id}
    fresh = {
        "access_token": "",
        "refresh_token": refresh_token,
        "expires_at": None,
        "seed_hash": seed_hash,
        "refreshing_owner": None,
        "refreshing_until": None,
        "failed_at": None,
        "last_error": None,
        "updated_at": now,
    }
    await insert_ignore(session, ChannelToken, {**key, **fresh, "version": 0}, list(key))
    row = (await session.execute(select(ChannelToken).filter_by(**key))).scalar_one()
    if row.seed_hash != seed_hash:
        await session.execute(
            update(ChannelToken).filter_by(**key).values(**fresh, version=ChannelToken.version + 1)
        )
        await session.refresh(row)
    return row


async def do_claim_refresh(
    session: AsyncSession,
    channel: str,
    account_id: str,
    version: int,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> bool:
    """Claim the right to refresh the row as it was at ``version``; False if someone else may."""
    result = await session.execute(
        update(ChannelToken)
        .where(
            ChannelToken.channel == channel,
            ChannelToken.account_id == account_id,
            ChannelToken.version == version,
            ChannelToken.failed_at.is_(None),
            or_(ChannelToken.refreshing_until.is_(None), ChannelToken.refreshing_until < now),
        )
        .values(refreshing_owner=owner, refreshing_until=now + lease)
    )
    return result.rowcount == 1


async def do_store_refreshed(
    session: AsyncSession,
    channel: str,
    account_id: str,
    owner: str,
    access_token: str,
    refresh_token: str,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """Store a refresh's new tokens (the old refresh token is spent) and release the claim."""
    await session.execute(
        _claimed(channel, account_id, owner).values(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            version=ChannelToken.version + 1,
            refreshing_owner=None,
            refreshing_until=None,
            refreshed_at=now,
            last_error=None,
            updated_at=now,
        )
    )


async def do_release_refresh(
    session: AsyncSession,
    channel: str,
    account_id: str,
    owner: str,
    error: str,
    now: dt.datetime,
    *,
    permanent: bool,
) -> None:
    """Give up a claimed refresh; a ``permanent`` failure stops refreshing until re-seeding."""
    values: dict[str, object] = {
        "refreshing_owner": None,
        "refreshing_until": None,
        "last_error": error[:2000],
        "updated_at": now,
    }
    if permanent:
        values["failed_at"] = now
    await session.execute(_claimed(channel, account_id, owner).values(**values))


def _claimed(channel: str, account_id: str, owner: str) -> Update:
    """An update of the token row, only while ``owner`` holds its refresh claim."""
    return update(ChannelToken).where(
        ChannelToken.channel == channel,
        ChannelToken.account_id == account_id,
        ChannelToken.refreshing_owner == owner,
    )

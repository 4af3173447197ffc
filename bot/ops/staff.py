"""Staff accounts, sign-in state (failures, lockout, sessions) and the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEntry, StaffPage, StaffSession, StaffUser

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
ROLES = ("admin", "staff")


async def do_create_user(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    role: str,
    now: dt.datetime,
) -> StaffUser:
    """A new account (the caller checked the password and that the username is free)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user = StaffUser(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        active=True,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def do_set_pages(
    session: AsyncSession, user_id: int, pages: Iterable[tuple[str, str]]
) -> None:
    """The pages (channel, page id) the staff member works on, replacing the previous set."""
    await session.execute(delete(StaffPage).where(StaffPage.user_id == user_id))
    for channel, page_id in sorted(set(pages)):
        session.add(StaffPage(user_id=user_id, channel=channel, page_id=page_id))


async def do_update_user(
    session: AsyncSession,
    user: StaffUser,
    *,
    display_name: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    password_hash: str | None = None,
    pages: Iterable[tuple[str, str]] | None = None,
) -> list[str]:
    """Change what is given; the names of the fields changed. Deactivating ends the sessions."""
    changed = []
    for field, value in (("display_name", display_name), ("role", role), ("active", active)):
        if value is not None and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if password_hash is not None:
        user.password_hash = password_hash
        changed.append("password")
    if pages is not None:
        await do_set_pages(session, user.id, pages)
        changed.append("pages")
    if active is False or password_hash is not None:
        await session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return changed


async def do_note_failed_login(session: AsyncSession, user: StaffUser, now: dt.datetime) -> None:
    """Count a wrong password; the account locks for a while after too many."""
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0


async def do_start_session(
    session: AsyncSession,
    user: StaffUser,
    token_hash: str,
    csrf_token: str,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> None:
    """A successful sign-in: failures forgotten, a session stored, expired ones removed."""
    user.failed_logins = 0
    user.locked_until = None
    await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.add(
        StaffSession(
            token_hash=token_hash,
            user_id=user.id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + lifetime,
        )
    )


async def do_end_session(session: AsyncSession, token_hash: str) -> None:
    """Sign out."""
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))


async def do_audit(
    session: AsyncSession,
    user_id: int | None,
    action: str,
    target: str,
    now: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a staff action."""
    session.add(
        AuditEntry(
            user_id=user_id, action=action, target=target, detail=detail or {}, created_at=now
        )
    )


async def find_user(session: AsyncSession, username: str) -> StaffUser | None:
    """The account with this username."""
    found = await session.execute(select(StaffUser).where(StaffUser.username == username))
    return found.scalar_one_or_none()


async def user_pages(session: AsyncSession, user_id: int) -> set[tuple[str, str]]:
    """The (channel, page id) pairs the staff member works on."""
    rows = await session.execute(
        select(StaffPage.channel, StaffPage.page_id).where(StaffPage.user_id == user_id)
    )
    return {(channel, page_id) for channel, page_id in rows}

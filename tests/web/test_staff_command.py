"""``make admin``: the first admin is created from the command line, with a checked password."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from sqlalchemy import select

from bot.db.models import StaffPage, StaffUser
from bot.db.session import create_engine, session_factory
from bot.lib.passwords import verify_password
from tools.paths import ROOT


def run(database_url: str, password: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.staff_command", *args],
        env={"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "CONSOLE_PASSWORD": password},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_create_admin_and_staff(database_url):
    args = ("--username", "admin", "--name", "Quản trị")
    short = await asyncio.to_thread(run, database_url, "short", *args)
    assert short.returncode != 0 and "ít nhất 10 ký tự" in short.stderr
    made = await asyncio.to_thread(run, database_url, "mat-khau-du-dai", *args)
    assert made.returncode == 0, made.stderr
    again = await asyncio.to_thread(run, database_url, "mat-khau-du-dai", *args)
    assert again.returncode != 0 and "đã có" in again.stderr
    staff = await asyncio.to_thread(
        run,
        database_url,
        "mat-khau-cua-lan",
        "--username",
        "lan",
        "--name",
        "Lan",
        "--role",
        "staff",
        "--page",
        "facebook:123",
        "--page",
        "zalo:456",
    )
    assert staff.returncode == 0, staff.stderr

    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        users = {u.username: u for u in (await session.execute(select(StaffUser))).scalars()}
        pages = (await session.execute(select(StaffPage.channel, StaffPage.page_id))).all()
    await engine.dispose()
    assert (users["admin"].role, users["lan"].role) == ("admin", "staff")
    assert verify_password("mat-khau-du-dai", users["admin"].password_hash)
    assert not verify_password("mat-khau-sai-roi", users["admin"].password_hash)
    assert "mat-khau" not in users["admin"].password_hash
    assert sorted(pages) == [("facebook", "123"), ("zalo", "456")]

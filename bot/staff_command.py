"""Staff accounts from the command line: the first admin, and staff with their pages.

    make admin ARGS="--username admin --name 'Quản trị'"            # asks for the password
    make admin ARGS="--username lan --name 'Chị Lan' --role staff --page facebook:1234567890"

The password is read from the terminal, or from CONSOLE_PASSWORD when there is no terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import os
import sys

from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.lib.passwords import hash_password, password_problem
from bot.ops import staff
from bot.settings import Settings


def page(value: str) -> tuple[str, str]:
    """``facebook:123`` -> (channel, page id)."""
    channel, _, page_id = value.partition(":")
    if channel not in ("facebook", "zalo", "sandbox") or not page_id:
        raise argparse.ArgumentTypeError("a page is channel:id, e.g. facebook:1234567890")
    return channel, page_id


async def create(
    database_url: str, username: str, name: str, role: str, password: str, pages: list
) -> str | None:
    """Create the account; the problem (Vietnamese) if it cannot be."""
    problem = password_problem(password)
    if problem:
        return problem
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            if await staff.find_user(session, username) is not None:
                return f"Tên đăng nhập {username} đã có."
            now = dt.datetime.now(dt.UTC)
            user = await staff.do_create_user(
                session,
                username=username,
                display_name=name,
                password_hash=hash_password(password),
                role=role,
                now=now,
            )
            await staff.do_set_pages(session, user.id, pages)
            await staff.do_audit(session, None, "create_user", username, now, {"role": role})
    finally:
        await engine.dispose()
    return None


def main() -> None:
    """Create one account."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--username", required=True)
    parser.add_argument("--name", required=True, help="the name shown to colleagues")
    parser.add_argument("--role", choices=("admin", "staff"), default="admin")
    parser.add_argument("--page", type=page, action="append", default=[], help="channel:id")
    args = parser.parse_args()
    if sys.stdin.isatty():
        password = getpass.getpass("Mật khẩu: ")
        if getpass.getpass("Nhập lại: ") != password:
            raise SystemExit("Hai lần nhập không khớp.")
    else:
        password = os.environ.get("CONSOLE_PASSWORD", "")
    problem = asyncio.run(
        create(
            Settings.from_env().database_url,
            args.username,
            args.name,
            args.role,
            password,
            args.page,
        )
    )
    if problem:
        raise SystemExit(problem)
    print(f"Đã tạo tài khoản {args.username} ({args.role}).")


if __name__ == "__main__":
    main()

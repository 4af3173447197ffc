"""Fresh databases for tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from tests.helpers.postgres import PostgresServer


async def _admin(server: PostgresServer, statement: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=server.port, user="postgres", database="postgres"
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_pg_database(server: PostgresServer) -> tuple[str, str]:
    """A new empty database; returns (name, SQLAlchemy URL)."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    return name, server.url(name)


async def drop_pg_database(server: PostgresServer, name: str) -> None:
    """Drop a database made by :func:`create_pg_database`, closing its connections."""
    await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(directory: Path) -> str:
    """A SQLite database file in ``directory``."""
    return f"sqlite+aiosqlite:///{directory / 'bot.db'}"

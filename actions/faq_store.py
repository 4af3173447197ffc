"""Where actions read FAQ answers: the gateway's database, or memory in tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import FaqEntry
from bot.db.session import create_engine, session_factory
from bot.settings import DEFAULT_DATABASE_URL


@dataclass(frozen=True)
class Catalog:
    """The slugs in the store, and those whose answers also go to staff."""

    known: frozenset[str]
    sensitive: frozenset[str]


class FaqStore(Protocol):
    """Read access to reviewed FAQ entries."""

    async def get(self, slug: str) -> FaqEntry | None: ...

    async def catalog(self) -> Catalog: ...


class InMemoryFaqStore:
    """A store over a list of entries, for tests."""

    def __init__(self, entries: list[FaqEntry]) -> None:
        self._entries = {e.slug: e for e in entries}

    async def get(self, slug: str) -> FaqEntry | None:
        return self._entries.get(slug)

    async def catalog(self) -> Catalog:
        sensitive = frozenset(s for s, e in self._entries.items() if e.sensitive)
        return Catalog(frozenset(self._entries), sensitive)


class SqlFaqStore:
    """The FAQ table in the gateway's database (``DATABASE_URL``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def get(self, slug: str) -> FaqEntry | None:
        async with self._sessions() as session:
            return await session.get(FaqEntry, slug)

    async def catalog(self) -> Catalog:
        async with self._sessions() as session:
            rows = (await session.execute(select(FaqEntry.slug, FaqEntry.sensitive))).all()
        return Catalog(frozenset(s for s, _ in rows), frozenset(s for s, sens in rows if sens))


_default: FaqStore | None = None


def default_store() -> FaqStore:
    """The store for the running action server, created on first use."""
    global _default
    if _default is None:
        _default = SqlFaqStore(create_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)))
    return _default

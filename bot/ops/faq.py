"""The FAQ store: entries from ``nlu_data/faq`` loaded into the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import FaqDraft, FaqEntry, FaqRevision
from nlu.faq_source import FaqEntry as SourceEntry

STORED_FIELDS = (
    "category",
    "question",
    "answer",
    "legal_source",
    "effective_from",
    "effective_note",
    "reviewed",
    "sensitive",
    "uncertain",
)


def source_hash(entry: SourceEntry) -> str:
    """A fingerprint of the stored fields as written in the YAML."""
    fields = {k: v for k, v in asdict(entry).items() if k in STORED_FIELDS}
    return hashlib.sha256(json.dumps(fields, default=str, sort_keys=True).encode()).hexdigest()


async def do_sync_faq(
    session: AsyncSession, entries: Iterable[SourceEntry], now: dt.datetime
) -> tuple[int, int]:
    """Insert new entries and update those whose YAML changed since the last sync.

    An entry whose YAML is unchanged keeps its stored text, so edits made in the console are
    not overwritten at every start. Returns (inserted, updated).
    """
    stored = {row.slug: row for row in (await session.execute(select(FaqEntry))).scalars()}
    inserted = updated = 0
    for entry in entries:
        fingerprint = source_hash(entry)
        values = {k: getattr(entry, k) for k in STORED_FIELDS}
        row = stored.get(entry.slug)
        if row is None:
            session.add(
                FaqEntry(slug=entry.slug, source_hash=fingerprint, updated_at=now, **values)
            )
            inserted += 1
        elif row.source_hash != fingerprint:
            for key, value in values.items():
                setattr(row, key, value)
            row.source_hash = fingerprint
            row.updated_at = now
            updated += 1
    return inserted, updated


EDITABLE_FIELDS = ("answer", "legal_source", "effective_from")


async def do_edit_faq(
    session: AsyncSession,
    entry: FaqEntry,
    changes: dict[str, object],
    user_id: int | None,
    now: dt.datetime,
) -> bool:
    """Change an entry's answer, source or effective date, keeping the change in its history.

    The entry counts as reviewed today. False (and nothing stored) when nothing changes.
    """
    before = {f: _plain(getattr(entry, f)) for f in EDITABLE_FIELDS if f in changes}
    after = {f: _plain(changes[f]) for f in before}
    if before == after:
        return False
    for field, value in changes.items():
        setattr(entry, field, value)
    entry.reviewed = now.date()
    entry.updated_at = now
    session.add(
        FaqRevision(slug=entry.slug, user_id=user_id, before=before, after=after, created_at=now)
    )
    return True


async def do_make_draft(
    session: AsyncSession,
    *,
    question: str,
    answer: str,
    conversation_id: int,
    message_id: int,
    user_id: int | None,
    now: dt.datetime,
) -> FaqDraft | None:
    """A draft entry from a staff answer; None if that answer already has one."""
    if await session.scalar(select(FaqDraft.id).where(FaqDraft.message_id == message_id)):
        return None
    draft = FaqDraft(
        question=question,
        answer=answer,
        conversation_id=conversation_id,
        message_id=message_id,
        created_by=user_id,
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value

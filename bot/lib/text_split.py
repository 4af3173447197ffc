"""Splitting a long reply into messages that fit a platform's text limit."""

from __future__ import annotations

import re

_SENTENCE_END_RE = re.compile(r"(?<=[.!?;:])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, cut at paragraphs, then sentences, then words.

    A single word longer than the limit (a long link) is cut where the limit falls.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        joiner = "\n\n" if current and piece.startswith("\0") else " "
        piece = piece.lstrip("\0")
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs (marked with a leading NUL), or their sentences and words when too long."""
    pieces: list[str] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        units = [paragraph] if len(paragraph) <= limit else _SENTENCE_END_RE.split(paragraph)
        first = True
        for unit in units:
            words = [unit] if len(unit) <= limit else unit.split()
            for word in words:
                chunks = [word[i : i + limit] for i in range(0, len(word), limit)]
                for chunk in chunks:
                    pieces.append(("\0" if first else "") + chunk)
                    first = False
    return pieces

"""FAQ content as it is written in ``nlu_data/faq/*.yml``: load and validate.

Each file holds ``entries:``, a list of mappings with the fields of :class:`FaqEntry`.
Slugs are the stable ids from the shared fact base and never change once published.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CATEGORIES = ("policy", "welfare", "law", "union")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
MIN_EXAMPLES = 12
REQUIRED = ("slug", "category", "question", "answer", "legal_source", "effective_from", "reviewed")
OPTIONAL = ("effective_note", "sensitive", "uncertain", "examples")


@dataclass(frozen=True)
class FaqEntry:
    """One reviewed answer, with the law it rests on and the date it applies from."""

    slug: str
    category: str
    question: str
    answer: str
    legal_source: str
    effective_from: dt.date
    reviewed: dt.date
    effective_note: str = ""
    sensitive: bool = False
    uncertain: str = ""
    examples: tuple[str, ...] = field(default=())


class FaqFormatError(ValueError):
    """Raised when an FAQ file does not follow the schema; the message names file and slug."""


def _as_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise FaqFormatError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def _entry(raw: object, where: str) -> FaqEntry:
    if not isinstance(raw, dict):
        raise FaqFormatError(f"{where}: an entry must be a mapping")
    unknown = set(raw) - set(REQUIRED) - set(OPTIONAL)
    missing = [k for k in REQUIRED if not raw.get(k)]
    if unknown or missing:
        raise FaqFormatError(f"{where}: unknown fields {sorted(unknown)}, missing {missing}")
    slug = str(raw["slug"])
    where = f"{where} ({slug})"
    if not SLUG_RE.match(slug):
        raise FaqFormatError(f"{where}: slug must be lower-case ascii words joined by _")
    if raw["category"] not in CATEGORIES:
        raise FaqFormatError(f"{where}: category must be one of {CATEGORIES}")
    examples = raw.get("examples") or []
    if not isinstance(examples, list) or not all(
        isinstance(e, str) and e.strip() for e in examples
    ):
        raise FaqFormatError(f"{where}: examples must be a list of non-empty strings")
    return FaqEntry(
        slug=slug,
        category=raw["category"],
        question=str(raw["question"]).strip(),
        answer=" ".join(str(raw["answer"]).split()),
        legal_source=str(raw["legal_source"]).strip(),
        effective_from=_as_date(raw["effective_from"], where),
        reviewed=_as_date(raw["reviewed"], where),
        effective_note=str(raw.get("effective_note") or "").strip(),
        sensitive=bool(raw.get("sensitive", False)),
        uncertain=str(raw.get("uncertain") or "").strip(),
        examples=tuple(e.strip() for e in examples),
    )


def load_file(path: Path) -> list[FaqEntry]:
    """Read one FAQ file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise FaqFormatError(f"{path}: expected a top-level 'entries:' list")
    return [_entry(raw, f"{path.name}[{i}]") for i, raw in enumerate(data["entries"])]


def load_dir(directory: Path) -> list[FaqEntry]:
    """Read every ``*.yml`` under ``directory``; slugs and example texts must be unique."""
    entries: list[FaqEntry] = []
    for path in sorted(directory.glob("*.yml")):
        entries.extend(load_file(path))
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.slug in seen:
            raise FaqFormatError(f"duplicate slug {entry.slug}")
        seen[entry.slug] = entry.slug
    owner: dict[str, str] = {}
    for entry in entries:
        for example in entry.examples:
            key = example.casefold()
            if owner.setdefault(key, entry.slug) != entry.slug:
                raise FaqFormatError(
                    f"example {example!r} is given for both {owner[key]} and {entry.slug}"
                )
    return entries


def main(argv: list[str]) -> int:
    """``python -m nlu.faq_source [DIR]``: validate the FAQ files and print a summary."""
    directory = Path(argv[0]) if argv else Path("nlu_data/faq")
    try:
        entries = load_dir(directory)
    except FaqFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    thin = [e.slug for e in entries if len(e.examples) < MIN_EXAMPLES]
    print(f"{len(entries)} entries, {sum(len(e.examples) for e in entries)} examples")
    if thin:
        print(f"fewer than {MIN_EXAMPLES} examples: {', '.join(thin)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

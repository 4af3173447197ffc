"""The FAQ content in nlu_data/ is complete and well-formed."""

import re
from pathlib import Path

from nlu.faq_source import MIN_EXAMPLES, load_dir
from nlu.normalize import strip_diacritics

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT.parent / "shared" / "faq" / "facts.md"


def entries():
    return load_dir(ROOT / "nlu_data" / "faq")


def test_every_entry_has_enough_examples_including_plain_ascii_ones():
    for entry in entries():
        assert len(entry.examples) >= MIN_EXAMPLES, entry.slug
        plain = [e for e in entry.examples if strip_diacritics(e) == e]
        assert len(plain) >= 3, f"{entry.slug}: too few examples without diacritics"


def test_slugs_are_those_of_the_shared_fact_base():
    slugs = {e.slug for e in entries()}
    assert len(slugs) >= 15
    if FACTS.exists():
        published = set(re.findall(r"^### \d+\. `([a-z0-9_]+)`", FACTS.read_text(), re.M))
        assert slugs <= published


def test_answers_fit_one_messenger_message_with_source_and_date():
    for entry in entries():
        assert len(entry.answer) + len(entry.legal_source) + 80 < 2000, entry.slug

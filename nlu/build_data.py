"""Assemble Rasa training data from ``nlu_data/``.

FAQ entries are written once, in ``nlu_data/faq/*.yml``, with their examples. Rasa needs them as
retrieval intents ``faq/<slug>`` with a response each; this module writes those files, next to
copies of the hand-written Rasa files (``nlu_data/*.yml``, ``nlu_data/nlu/*.yml``), into a build
directory that ``rasa train --data`` reads.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from nlu.faq_source import FaqEntry, load_dir

HEADER = 'version: "3.1"\n'


def _example_line(text: str) -> str:
    # Rasa reads "[text](entity)" as an entity annotation; workers' brackets are never that.
    clean = " ".join(text.replace("[", "(").replace("]", ")").split())
    return f"      - {clean}\n"


def faq_nlu_yaml(entries: Iterable[FaqEntry], keep: Callable[[FaqEntry, int], bool]) -> str:
    """Retrieval-intent training examples; ``keep(entry, index)`` selects the examples."""
    parts = [HEADER, "nlu:\n"]
    for entry in entries:
        parts.append(f"  - intent: faq/{entry.slug}\n    examples: |\n")
        parts.extend(_example_line(e) for i, e in enumerate(entry.examples) if keep(entry, i))
    return "".join(parts)


def faq_responses_yaml(entries: Iterable[FaqEntry]) -> str:
    """One response per retrieval intent.

    The live answer comes from the FAQ store; Rasa only needs a response for each
    ``faq/<slug>``.
    """
    parts = [HEADER, "responses:\n"]
    for entry in entries:
        question = entry.question.replace('"', "'")
        parts.append(f'  utter_faq/{entry.slug}:\n    - text: "{question}"\n')
    return "".join(parts)


def rasa_files(data_dir: Path) -> list[Path]:
    """The hand-written Rasa training files in ``data_dir`` (everything but ``faq/``)."""
    return sorted(p for p in data_dir.rglob("*.yml") if "faq" not in p.relative_to(data_dir).parts)


def build(
    data_dir: Path, out_dir: Path, keep: Callable[[FaqEntry, int], bool] = lambda e, i: True
) -> list[FaqEntry]:
    """Write the training data for ``rasa train`` into ``out_dir`` (replaced)."""
    entries = load_dir(data_dir / "faq")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for path in rasa_files(data_dir):
        target = out_dir / "_".join(path.relative_to(data_dir).parts)
        shutil.copyfile(path, target)
    (out_dir / "faq_nlu.yml").write_text(faq_nlu_yaml(entries, keep), encoding="utf-8")
    (out_dir / "faq_responses.yml").write_text(faq_responses_yaml(entries), encoding="utf-8")
    return entries


def main() -> None:
    """``python -m nlu.build_data --data nlu_data --out var/rasa-data``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("nlu_data"))
    parser.add_argument("--out", type=Path, default=Path("var/rasa-data"))
    args = parser.parse_args()
    entries = build(args.data, args.out)
    print(f"{len(entries)} FAQ entries written to {args.out}")


if __name__ == "__main__":
    main()

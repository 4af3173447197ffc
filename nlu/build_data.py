"""Assemble Rasa training data from ``nlu_data/``.

FAQ entries are written once, in ``nlu_data/faq/*.yml``, with their examples. Rasa needs them as
retrieval intents ``faq/<slug>`` with a response each; this module writes those files, next to
the hand-written Rasa files (``nlu_data/*.yml``, ``nlu_data/nlu/*.yml``), into a build directory
that ``rasa train --data`` reads. A ``keep(label, index)`` filter leaves examples out, which is
how the evaluation holds out its test split (labels: ``faq/<slug>`` or the intent name).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from nlu.faq_source import FaqEntry, load_dir

HEADER = 'version: "3.1"\n'
Keep = Callable[[str, int], bool]


def keep_all(label: str, index: int) -> bool:
    """The default filter: train on everything."""
    return True


def _example_line(text: str) -> str:
    # Rasa reads "[text](entity)" as an entity annotation; workers' brackets are never that.
    clean = " ".join(text.replace("[", "(").replace("]", ")").split())
    return f"      - {clean}\n"


def examples_of(block: str) -> list[str]:
    """The examples of a Rasa ``examples: |`` block."""
    return [
        line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")
    ]


def nlu_yaml(intents: Iterable[tuple[str, list[str]]], keep: Keep) -> str:
    """Rasa NLU training data for ``(intent, examples)`` pairs, filtered by ``keep``."""
    parts = [HEADER, "nlu:\n"]
    for intent, examples in intents:
        parts.append(f"  - intent: {intent}\n    examples: |\n")
        parts.extend(_example_line(e) for i, e in enumerate(examples) if keep(intent, i))
    return "".join(parts)


def faq_intents(entries: Iterable[FaqEntry]) -> list[tuple[str, list[str]]]:
    """FAQ entries as retrieval intents."""
    return [(f"faq/{e.slug}", list(e.examples)) for e in entries]


def rasa_intents(path: Path) -> list[tuple[str, list[str]]] | None:
    """The intents of a hand-written Rasa NLU file, or None if it holds no NLU data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("nlu") if isinstance(data, dict) else None
    if not items:
        return None
    return [(str(i["intent"]), examples_of(str(i.get("examples", "")))) for i in items]


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


def build(data_dir: Path, out_dir: Path, keep: Keep = keep_all) -> list[FaqEntry]:
    """Write the training data for ``rasa train`` into ``out_dir`` (replaced)."""
    entries = load_dir(data_dir / "faq")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for path in rasa_files(data_dir):
        target = out_dir / "_".join(path.relative_to(data_dir).parts)
        intents = rasa_intents(path)
        if intents is None:
            shutil.copyfile(path, target)
        else:
            target.write_text(nlu_yaml(intents, keep), encoding="utf-8")
    (out_dir / "faq_nlu.yml").write_text(nlu_yaml(faq_intents(entries), keep), encoding="utf-8")
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

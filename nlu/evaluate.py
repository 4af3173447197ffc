"""Evaluate the NLU and the decision rule on a held-out split: ``make evaluate``.

Trains the full model (config.yml, domain.yml) on the training split only, then parses every
held-out message, and again with its diacritics stripped, and applies the live decision rule.
Writes ``docs/nlu-evaluation.md`` and ``docs/nlu-confusion.png``. Runs in the Rasa environment.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlu.build_data import build, faq_intents, rasa_files, rasa_intents
from nlu.decision import FALLBACK_INTENT, FAQ_INTENT, decide, faq_ranking
from nlu.metrics import accuracy, macro_f1, percentile, worst_labels
from nlu.normalize import strip_diacritics
from nlu.split import held_out_indices
from tools.paths import EVALUATION_INPUTS
from tools.train import inputs_hash

OUT_OF_SCOPE = "out_of_scope"
COMMAND = "make evaluate"


@dataclass(frozen=True)
class Case:
    """One held-out message and its true label (``faq/<slug>`` or an intent)."""

    text: str
    label: str


@dataclass(frozen=True)
class Outcome:
    """What the model and the decision rule made of one message."""

    case: Case
    predicted: str
    decision: str
    answered_faq: str | None
    seconds: float
    top_two: tuple[float, float]  # the FAQ selector's two best confidences


def split(data_dir: Path, salt: str = "") -> tuple[list[Case], dict[str, frozenset[int]]]:
    """The held-out cases and, per label, the held-out example indices."""
    from nlu.faq_source import load_dir

    labelled = faq_intents(load_dir(data_dir / "faq"))
    for path in rasa_files(data_dir):
        labelled.extend(rasa_intents(path) or [])
    held: dict[str, frozenset[int]] = {}
    cases = []
    for label, examples in labelled:
        held[label] = held_out_indices(
            label, examples, keep_first=label.startswith("faq/"), salt=salt
        )
        cases.extend(Case(examples[i], label) for i in sorted(held[label]))
    return cases, held


def predicted_label(parse: dict[str, Any]) -> str:
    """The label the model gives: the best FAQ entry if the intent is ``faq``."""
    for item in parse.get("intent_ranking") or []:
        name = str(item.get("name"))
        if name == FALLBACK_INTENT:
            continue
        if name == FAQ_INTENT:
            ranking = faq_ranking(parse)
            return f"faq/{ranking[0][0]}" if ranking else FAQ_INTENT
        return name
    return FALLBACK_INTENT


async def run_cases(
    agent: Any, cases: list[Case], sensitive: set[str], known: set[str]
) -> list[Outcome]:
    """Parse every case and apply the decision rule."""
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        parse = await agent.parse_message(case.text)
        seconds = time.perf_counter() - started
        decision = decide(parse, sensitive=sensitive, known=known)
        answered = decision.faq if decision.kind == "answer" else None
        ranking = [c for _, c in faq_ranking(parse)[:2]] + [0.0, 0.0]
        outcomes.append(
            Outcome(
                case,
                predicted_label(parse),
                decision.kind,
                answered,
                seconds,
                (ranking[0], ranking[1]),
            )
        )
    return outcomes


def summarize(outcomes: list[Outcome], stripped: list[Outcome]) -> dict[str, Any]:
    """The figures of the report."""
    faq = [(o.case.label, o.predicted) for o in outcomes if o.case.label.startswith("faq/")]
    faq_plain = [(o.case.label, o.predicted) for o in stripped if o.case.label.startswith("faq/")]
    everything = [(o.case.label, o.predicted) for o in outcomes]
    oos = [o for o in outcomes if o.case.label == OUT_OF_SCOPE]
    answered = [o for o in outcomes + stripped if o.answered_faq]
    wrong = [o for o in answered if f"faq/{o.answered_faq}" != o.case.label]
    faq_decisions = Counter(o.decision for o in outcomes if o.case.label.startswith("faq/"))
    latencies = [o.seconds * 1000 for o in outcomes + stripped]
    return {
        "faq_cases": len(faq),
        "all_cases": len(everything),
        "top1_accuracy": accuracy(faq),
        "top1_accuracy_no_diacritics": accuracy(faq_plain),
        "macro_f1_faq": macro_f1(faq),
        "macro_f1_all_labels": macro_f1(everything),
        "accuracy_all_labels": accuracy(everything),
        "out_of_scope_recall": sum(o.predicted == OUT_OF_SCOPE for o in oos) / len(oos)
        if oos
        else 0.0,
        "out_of_scope_answered_with_faq": sum(bool(o.answered_faq) for o in oos),
        "out_of_scope_cases": len(oos),
        "answered_with_faq": len(answered),
        "wrong_answers": len(wrong),
        "wrong_answer_share": len(wrong) / len(answered) if answered else 0.0,
        "faq_decisions": dict(faq_decisions),
        "parse_ms_p50": percentile(latencies, 50),
        "parse_ms_p95": percentile(latencies, 95),
        "worst": worst_labels(faq, 10),
    }


def confusion_picture(outcomes: list[Outcome], path: Path) -> None:
    """A confusion matrix of the FAQ topics (rows: truth, columns: prediction)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    faq = [(o.case.label, o.predicted) for o in outcomes if o.case.label.startswith("faq/")]
    labels = sorted({t for t, _ in faq})
    other = "(khác)"
    index = {label: i for i, label in enumerate([*labels, other])}
    matrix = np.zeros((len(labels), len(labels) + 1))
    for truth, predicted in faq:
        matrix[index[truth], index.get(predicted, index[other])] += 1
    matrix = matrix / matrix.sum(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(16, 15), dpi=90)
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    short = [label.removeprefix("faq/") for label in labels]
    ax.set_xticks(range(len(labels) + 1), [*short, other], rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), short, fontsize=6)
    ax.set_xlabel("dự đoán (predicted)")
    ax.set_ylabel("đúng (truth)")
    ax.set_title("FAQ topics, held-out split: share of each topic's messages")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100 * value:.1f} %"


TARGETS = [
    ("Top-1 topic accuracy (held-out)", "top1_accuracy", 0.92, ">="),
    ("Top-1 accuracy, diacritics stripped", "top1_accuracy_no_diacritics", 0.90, ">="),
    ("Out-of-scope recall", "out_of_scope_recall", 0.85, ">="),
    ("Wrong answers among FAQ answers", "wrong_answer_share", 0.03, "<="),
]


def report(
    figures: dict[str, Any],
    train_seconds: float,
    split_sizes: tuple[int, int],
    command: str,
    inputs: str | None,
) -> str:
    """The Markdown report."""
    oos_kept = 1 - figures["out_of_scope_answered_with_faq"] / max(
        1, figures["out_of_scope_cases"]
    )
    lines = [
        "# NLU evaluation",
        "",
        f"Produced by `{command}` on {dt.date.today().isoformat()} (2-core machine). The model",
        "is trained with `config.yml` on the training split only; the held-out split (about",
        "20 % of every topic's and intent's examples, never the canonical question) is never",
        "trained on. See `nlu/split.py` and `nlu/evaluate.py`.",
        "",
        f"- Training examples: {split_sizes[0]}; held-out messages: {split_sizes[1]} "
        f"({figures['faq_cases']} FAQ, {figures['out_of_scope_cases']} out of scope).",
        f"- Training time of the full model (NLU and rules): {train_seconds:.0f} s.",
        f"- Inputs (sha256 of {', '.join(EVALUATION_INPUTS)}): "
        f"`{inputs or 'not the repository'}`.",
        f"- Parse latency in process: p50 {figures['parse_ms_p50']:.0f} ms, "
        f"p95 {figures['parse_ms_p95']:.0f} ms.",
        "",
        "| Measure | Value | Target | Met |",
        "| --- | --- | --- | --- |",
    ]
    for name, key, target, op in TARGETS:
        value = figures[key]
        met = value >= target if op == ">=" else value <= target
        lines.append(f"| {name} | {pct(value)} | {op} {pct(target)} | {'yes' if met else 'NO'} |")
    lines += [
        f"| Macro-F1 over FAQ topics | {figures['macro_f1_faq']:.3f} | | |",
        f"| Macro-F1 over all labels (topics and intents) | "
        f"{figures['macro_f1_all_labels']:.3f} | | |",
        f"| Accuracy over all labels | {pct(figures['accuracy_all_labels'])} | | |",
        f"| Out-of-scope messages not answered with an FAQ entry | {pct(oos_kept)} | | |",
        "",
        "Definitions: the predicted topic is the FAQ selector's best entry when the intent is",
        "`faq`, otherwise the intent. Out-of-scope recall counts held-out out-of-scope messages",
        "predicted `out_of_scope`"
        f" ({figures['out_of_scope_answered_with_faq']} of {figures['out_of_scope_cases']} were",
        "answered with an FAQ entry). Wrong answers: FAQ answers the decision rule chose to give",
        "(accented and stripped messages together) whose entry is not the true topic:",
        f"{figures['wrong_answers']} of {figures['answered_with_faq']}.",
        "",
        "Decisions on held-out FAQ messages: "
        + ", ".join(f"{k} {v}" for k, v in sorted(figures["faq_decisions"].items()))
        + ".",
        "",
        "## Worst topics",
        "",
        "| Topic | Recall | Messages | Mistaken for |",
        "| --- | --- | --- | --- |",
    ]
    for row in figures["worst"]:
        confused = (
            ", ".join(f"{label.removeprefix('faq/')} ({n})" for label, n in row.confused_with)
            or "-"
        )
        lines.append(
            f"| {row.label.removeprefix('faq/')} | {pct(row.recall)} | {row.support} "
            f"| {confused} |"
        )
    lines += ["", "![Confusion matrix](nlu-confusion.png)", ""]
    return "\n".join(lines)


def sweep_table(outcomes: list[Outcome]) -> str:
    """Wrong-answer share and correct coverage for other answer thresholds (FAQ intent only).

    Used to choose ``ANSWER_CONFIDENCE`` and ``ANSWER_RATIO`` in nlu/decision.py on a split
    made with another ``--salt`` than the reported one.
    """
    faq_like = [o for o in outcomes if o.predicted.startswith("faq/")]
    faq_cases = sum(o.case.label.startswith("faq/") for o in outcomes) or 1
    lines = [
        "| confidence >= | ratio >= | answered | wrong | wrong share | correct / FAQ cases |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for confidence in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        for ratio in (1.5, 2.0, 3.0, 4.0, 6.0, 8.0):
            answered = [
                o
                for o in faq_like
                if o.top_two[0] >= confidence and o.top_two[0] >= ratio * o.top_two[1]
            ]
            wrong = sum(o.predicted != o.case.label for o in answered)
            share = wrong / len(answered) if answered else 0.0
            correct = len(answered) - wrong
            lines.append(
                f"| {confidence} | {ratio} | {len(answered)} | {wrong} | {pct(share)} "
                f"| {pct(correct / faq_cases)} |"
            )
    return "\n".join(lines) + "\n"


def train(data: Path, out: Path, config: Path) -> float:
    """Train the full model on ``data``; returns the wall time in seconds."""
    started = time.monotonic()
    log = out / "train.log"
    with log.open("wb") as sink:
        result = subprocess.run(
            [
                "rasa",
                "train",
                "--data",
                str(data),
                "--config",
                str(config),
                "--domain",
                "domain.yml",
                "--out",
                str(out),
                "--fixed-model-name",
                "eval",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "RASA_MAX_CACHE_SIZE": "0",  # no cached components: the time is a real training
                "PATH": os.pathsep.join(
                    [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
                ),
            },
            check=False,
        )
    if result.returncode != 0:
        raise SystemExit(f"training failed, see {log}")
    return time.monotonic() - started


async def parse_all(
    model: Path, cases: list[Case], sensitive: set[str], known: set[str]
) -> tuple[list[Outcome], list[Outcome]]:
    """Outcomes for the held-out cases as written and with diacritics stripped."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    outcomes = await run_cases(agent, cases, sensitive, known)
    stripped_cases = [Case(strip_diacritics(c.text), c.label) for c in cases]
    return outcomes, await run_cases(agent, stripped_cases, sensitive, known)


def evaluate(
    data_dir: Path,
    work: Path,
    docs: Path,
    config: Path,
    salt: str = "",
    inputs: str | None = None,
) -> dict[str, Any]:
    """Split, train, parse, measure and write the report.

    ``inputs``: the hash of the repository's evaluation inputs when those are what is evaluated.
    """
    cases, held = split(data_dir, salt)
    work.mkdir(parents=True, exist_ok=True)
    entries = build(data_dir, work / "data", keep=lambda label, i: i not in held.get(label, ()))
    all_examples = sum(len(e.examples) for e in entries) + sum(
        len(examples) for p in rasa_files(data_dir) for _, examples in rasa_intents(p) or []
    )
    train_seconds = train(work / "data", work, config)
    sensitive = {e.slug for e in entries if e.sensitive}
    known = {e.slug for e in entries}
    outcomes, stripped = asyncio.run(parse_all(work / "eval.tar.gz", cases, sensitive, known))
    figures = summarize(outcomes, stripped)
    docs.mkdir(parents=True, exist_ok=True)
    confusion_picture(outcomes, docs / "nlu-confusion.png")
    (docs / "nlu-evaluation.md").write_text(
        report(figures, train_seconds, (all_examples - len(cases), len(cases)), COMMAND, inputs),
        encoding="utf-8",
    )
    errors = [
        {
            "text": o.case.text,
            "truth": o.case.label,
            "predicted": o.predicted,
            "decision": o.decision,
        }
        for o in outcomes + stripped
        if o.predicted != o.case.label
    ]
    (work / "errors.json").write_text(json.dumps(errors, ensure_ascii=False, indent=1))
    heading = (
        f"# Answer-threshold sweep (held-out split with salt {salt!r})\n\n"
        f"Produced by `python -m nlu.evaluate --salt {salt!r}` in the Rasa environment. Each\n"
        "row: FAQ answers the bot would give (accented and stripped messages) if it answered\n"
        "when the best entry's confidence and its ratio to the runner-up reach the values.\n\n"
    )
    (work / "sweep.md").write_text(heading + sweep_table(outcomes + stripped), encoding="utf-8")
    return figures


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("nlu_data"))
    parser.add_argument("--work", type=Path, default=Path("var/eval"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--salt", default="", help="another held-out split, for calibration")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.disable(logging.WARNING)
    own_inputs = (args.data, args.config, args.salt) == (Path("nlu_data"), Path("config.yml"), "")
    inputs = inputs_hash(names=EVALUATION_INPUTS) if own_inputs else None
    figures = evaluate(args.data, args.work, args.docs, args.config, args.salt, inputs)
    for name, key, _, _ in TARGETS:
        print(f"{name}: {pct(figures[key])}")
    print(f"report: {args.docs / 'nlu-evaluation.md'}; errors: {args.work / 'errors.json'};")
    print(f"threshold sweep: {args.work / 'sweep.md'}")


if __name__ == "__main__":
    main()

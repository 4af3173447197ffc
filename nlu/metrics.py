"""Evaluation metrics over (truth, prediction) pairs; standard library only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    """Share of pairs whose prediction equals the truth."""
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0


def per_label_f1(pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    """F1 of every label that occurs as a truth."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for truth, predicted in pairs:
        if truth == predicted:
            tp[truth] += 1
        else:
            fn[truth] += 1
            fp[predicted] += 1
    scores = {}
    for label in {t for t, _ in pairs}:
        precision = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        recall = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        scores[label] = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
    return scores


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Unweighted mean of the per-label F1 scores."""
    scores = per_label_f1(pairs)
    return sum(scores.values()) / len(scores) if scores else 0.0


@dataclass(frozen=True)
class LabelReport:
    """How one label fared: recall, support and what it was mistaken for most."""

    label: str
    recall: float
    support: int
    confused_with: tuple[tuple[str, int], ...]


def worst_labels(pairs: Iterable[tuple[str, str]], count: int = 10) -> list[LabelReport]:
    """The labels with the lowest recall (ties: more examples first)."""
    by_label: dict[str, list[str]] = {}
    for truth, predicted in pairs:
        by_label.setdefault(truth, []).append(predicted)
    reports = []
    for label, predictions in by_label.items():
        hits = sum(p == label for p in predictions)
        wrong = Counter(p for p in predictions if p != label).most_common(3)
        reports.append(LabelReport(label, hits / len(predictions), len(predictions), tuple(wrong)))
    reports.sort(key=lambda r: (r.recall, -r.support, r.label))
    return reports[:count]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0-100) by nearest rank."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]

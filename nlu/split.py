"""The held-out split for evaluation: deterministic, per label, never the canonical question."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HELD_OUT_SHARE = 0.2
MIN_HELD_OUT = 3


def held_out_indices(
    label: str, examples: Sequence[str], keep_first: bool, salt: str = ""
) -> frozenset[int]:
    """Indices of ``examples`` held out for testing.

    About 20 % of each label's examples (at least 3, or 2 for labels with fewer than 12), picked
    by a hash of label and text so that the split is the same on every machine. With
    ``keep_first`` the first example (an FAQ entry's canonical question) always trains. A
    different ``salt`` gives a different split (used to calibrate the decision thresholds on
    other messages than those the report is measured on).
    """
    candidates = list(range(1 if keep_first else 0, len(examples)))
    wanted = max(MIN_HELD_OUT if len(examples) >= 12 else 2, round(len(examples) * HELD_OUT_SHARE))
    wanted = min(wanted, max(0, len(candidates) - 1))

    def rank(index: int) -> str:
        return hashlib.sha256(f"{salt}{label}\0{examples[index]}".encode()).hexdigest()

    return frozenset(sorted(candidates, key=rank)[:wanted])

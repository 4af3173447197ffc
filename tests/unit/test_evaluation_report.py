"""The committed NLU evaluation report belongs to the committed model inputs and meets the targets.

The report takes minutes to produce (`make evaluate`), so the suite does not re-run it; it checks
that the report was produced from exactly the inputs in the repository, so a change to the data,
the pipeline, the normalizer or the decision rule without a new report fails here.
"""

from __future__ import annotations

import re

from tools.paths import EVALUATION_INPUTS, ROOT
from tools.train import inputs_hash

REPORT = ROOT / "docs" / "nlu-evaluation.md"


def test_report_was_produced_from_the_committed_inputs():
    found = re.search(r"^- Inputs \(sha256 of [^)]*\): `([0-9a-f]{64})`", REPORT.read_text(), re.M)
    assert found, "docs/nlu-evaluation.md has no inputs hash: run `make evaluate`"
    assert found.group(1) == inputs_hash(names=EVALUATION_INPUTS), (
        "training data, config, NLU code or decision rule changed since docs/nlu-evaluation.md "
        "was written: run `make evaluate` and commit the report"
    )


def test_report_meets_every_target():
    rows = re.findall(
        r"^\| (.+?) \| ([\d.]+) % \| ([<>]=) ([\d.]+) % \| (\w+) \|$", REPORT.read_text(), re.M
    )
    assert [name for name, *_ in rows] == [
        "Top-1 topic accuracy (held-out)",
        "Top-1 accuracy, diacritics stripped",
        "Out-of-scope recall",
        "Wrong answers among FAQ answers",
    ]
    for name, value, op, target, met in rows:
        holds = float(value) >= float(target) if op == ">=" else float(value) <= float(target)
        assert holds and met == "yes", f"{name}: {value} % is not {op} {target} %"

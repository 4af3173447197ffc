"""Where things are, relative to the repository root."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
MODELS = ROOT / "models"
MODEL = MODELS / "current.tar.gz"
MODEL_STAMP = MODELS / "current.inputs"
RASA_BIN = ROOT / ".venv-rasa" / "bin"
PROJECT_BIN = ROOT / ".venv" / "bin"
TRAINING_INPUTS = (
    "nlu_data",
    "config.yml",
    "domain.yml",
    "nlu/components.py",
    "nlu/normalize.py",
    "nlu/topic_classifier.py",
)
# What docs/nlu-evaluation.md depends on: the model's inputs, the decision rule and the split.
EVALUATION_INPUTS = (*TRAINING_INPUTS, "nlu/decision.py", "nlu/split.py")

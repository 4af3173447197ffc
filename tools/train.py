"""Train the Rasa model when its inputs changed: ``python -m tools.train [--force]``.

Inputs are ``nlu_data/``, ``config.yml``, ``domain.yml`` and the ``nlu`` package (custom
components). Their hash is stored beside ``models/current.tar.gz``; an unchanged hash reuses the
model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from nlu.build_data import build
from tools.paths import MODEL, MODEL_STAMP, MODELS, RASA_BIN, ROOT, TRAINING_INPUTS, VAR


def inputs_hash(root: Path = ROOT, names: tuple[str, ...] = TRAINING_INPUTS) -> str:
    """A hash of the path and content of every file under ``names`` (the training inputs)."""
    digest = hashlib.sha256()
    for name in names:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def rasa_env() -> dict[str, str]:
    """Environment for Rasa processes: the repository on the path for the custom components."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env


def train(force: bool = False) -> bool:
    """Train if needed; True if a model was trained."""
    wanted = inputs_hash()
    if not force and MODEL.exists() and MODEL_STAMP.exists() and MODEL_STAMP.read_text() == wanted:
        print(f"model up to date: {MODEL.relative_to(ROOT)}", file=sys.stderr)
        return False
    data = VAR / "rasa-data"
    entries = build(ROOT / "nlu_data", data)
    print(f"training on {len(entries)} FAQ entries ...", file=sys.stderr)
    started = time.monotonic()
    MODELS.mkdir(exist_ok=True)
    log_path = VAR / "log" / "train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(RASA_BIN / "rasa"),
        "train",
        "--data",
        str(data),
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--out",
        str(MODELS),
        "--fixed-model-name",
        "current",
    ]
    with log_path.open("wb") as log:
        result = subprocess.run(
            command, cwd=ROOT, env=rasa_env(), stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"training failed; the whole log is in {log_path.relative_to(ROOT)}")
    MODEL_STAMP.write_text(wanted)
    print(
        f"trained in {time.monotonic() - started:.0f} s (log: {log_path.relative_to(ROOT)})",
        file=sys.stderr,
    )
    return True


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if inputs are unchanged")
    train(parser.parse_args().force)


if __name__ == "__main__":
    main()

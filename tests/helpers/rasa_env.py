"""Running code in the Rasa environment (.venv-rasa), where Rasa and our components load."""

from __future__ import annotations

import subprocess

from tools.paths import RASA_BIN, ROOT
from tools.train import rasa_env


def run_in_rasa_env(args: list[str], stdin: str, timeout: float) -> str:
    """Run ``python ARGS`` in the Rasa environment from the repository root; its stdout."""
    result = subprocess.run(
        [str(RASA_BIN / "python"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=rasa_env(),
        timeout=timeout,
        check=True,
    )
    return result.stdout

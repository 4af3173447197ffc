"""What every benchmark writes: the command, the machine, the figures, as JSON and as text."""

from __future__ import annotations

import datetime as dt
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from bench.harness import WORK
from bench.machine import load_average, machine_facts


def command(argv: list[str]) -> str:
    """The ``make`` command that reproduces a run of ``python -m bench ARGV``."""
    return f"make bench ARGS={shlex.quote(' '.join(argv))}"


def start(name: str, argv: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """The head of a result: benchmark, command, machine facts, settings."""
    return {
        "benchmark": name,
        "command": command(argv),
        "machine": machine_facts(),
        "settings": settings,
    }


def finish(result: dict[str, Any], out: Path | None) -> Path:
    """Add the load average at the end, write the JSON file and return its path."""
    result["machine"]["load_average_at_end"] = load_average()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out or WORK / f"{result['benchmark']}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_clean(result), indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n")
    return path


def _clean(value: Any) -> Any:
    """``value`` with NaN as null and tuples as lists (strict JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def say(text: str) -> None:
    """Progress and figures on standard error (standard output is the JSON path)."""
    print(text, file=sys.stderr, flush=True)

"""Classify questions without a chat, with the trained model and the live decision rule.

Runs in the Rasa environment: ``make classify < questions.txt`` or
``.venv-rasa/bin/python -m nlu.classify --model models/current.tar.gz``. Reads one question per
line on stdin; prints one JSON object per line: text, intent, faq, confidence, decision,
suggestions, handoff.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from nlu.decision import decide
from nlu.faq_source import load_dir


def result_line(text: str, parse: dict[str, Any], sensitive: set[str], known: set[str]) -> dict:
    """The JSON object printed for one question."""
    decision = decide(parse, sensitive=sensitive, known=known)
    return {
        "text": text,
        "intent": decision.intent,
        "faq": decision.faq,
        "confidence": round(decision.confidence, 4),
        "decision": decision.kind,
        "suggestions": list(decision.suggestions),
        "handoff": decision.handoff,
    }


async def _run(model: Path, faq_dir: Path) -> None:
    from rasa.core.agent import Agent  # imported late: slow, and only here
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)

    entries = load_dir(faq_dir)
    sensitive = {e.slug for e in entries if e.sensitive}
    known = {e.slug for e in entries}
    agent = Agent.load(str(model))
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        parse = await agent.parse_message(text)
        print(
            json.dumps(result_line(text, parse, sensitive, known), ensure_ascii=False), flush=True
        )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/current.tar.gz"))
    parser.add_argument("--faq", type=Path, default=Path("nlu_data/faq"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.disable(logging.WARNING)
    asyncio.run(_run(args.model, args.faq))


if __name__ == "__main__":
    main()

"""The classify command, run as members' questions on stdin, with the trained model."""

from __future__ import annotations

import json

import pytest

from tests.helpers.rasa_env import run_in_rasa_env
from tools.paths import MODEL

pytestmark = pytest.mark.stack

QUESTIONS = [
    "lương tối thiểu vùng 1 năm 2026 là bao nhiêu",
    "luong toi thieu vung 1",
    "tôi muốn gặp cán bộ",
    "",
    "xin chao",
]


def test_classify_prints_one_decision_per_question():
    assert MODEL.exists(), "no trained model: run `make test` (it trains first)"
    stdout = run_in_rasa_env(["-m", "nlu.classify"], "\n".join(QUESTIONS) + "\n", timeout=300)
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["text"] for line in lines] == [q for q in QUESTIONS if q]
    for line in lines:
        assert {"text", "intent", "faq", "confidence", "decision"} <= set(line)
        assert line["decision"] in {"answer", "clarify", "handoff"}
        assert 0.0 <= line["confidence"] <= 1.0
    accented, plain, human, hello = lines
    assert (accented["decision"], accented["faq"]) == ("answer", "luong_toi_thieu_vung")
    assert (plain["decision"], plain["faq"]) == ("answer", "luong_toi_thieu_vung")
    assert (human["intent"], human["decision"], human["faq"]) == ("request_human", "handoff", None)
    assert (hello["intent"], hello["decision"], hello["faq"]) == ("greet", "answer", None)

"""The Rasa tokenizer component, run in the Rasa environment where Rasa loads it."""

from __future__ import annotations

import json

from tests.helpers.rasa_env import run_in_rasa_env

SCRIPT = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from nlu.components import VietnameseTokenizer
tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
out = []
for text in json.loads(sys.stdin.read()):
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    out.append([[t.text, t.start, t.end] for t in tokens])
print(json.dumps(out))
"""


def tokenize(texts: list[str]) -> list[list[list]]:
    stdout = run_in_rasa_env(["-c", SCRIPT], json.dumps(texts), timeout=120)
    return json.loads(stdout.strip().splitlines()[-1])


def test_component_normalizes_and_keeps_spans_of_the_original_words():
    accented, plain, abbreviated = tokenize(
        ["Lương tối thiểu vùng 1", "luong toi thieu vung 1", "cty ko đóng bhxh"]
    )
    assert (
        [t[0] for t in accented] == [t[0] for t in plain] == ["luong", "toi", "thieu", "vung", "1"]
    )
    assert accented[0][1:] == [0, 5]  # "Lương" spans characters 0-5 of the original text
    assert [t[0] for t in abbreviated] == [
        "cong",
        "ty",
        "khong",
        "dong",
        "bao",
        "hiem",
        "xa",
        "hoi",
    ]
    # an abbreviation's expanded words all point at the abbreviation in the original text
    assert {tuple(t[1:]) for t in abbreviated[:2]} == {(0, 3)}


def test_text_without_words_keeps_its_original_token():
    # no word to normalize: the component falls back to whitespace tokens, so the message
    # still has features (an emoji or "???" is out of scope, not an empty input)
    assert tokenize(["???", "😀"]) == [[["???", 0, 3]], [["😀", 0, 1]]]

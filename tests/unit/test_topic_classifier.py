"""The topic classifier component: trained, persisted and loaded the way Rasa does it."""

from __future__ import annotations

import json

from tests.helpers.rasa_env import run_in_rasa_env

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from nlu.components import VietnameseTokenizer
from nlu.decision import faq_ranking
from nlu.topic_classifier import TopicClassifier

examples = json.loads(sys.stdin.read())
tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
messages = []
for label, texts in examples.items():
    intent, _, key = label.partition("/")
    for text in texts:
        data = {"text": text, "intent": intent}
        if key:
            data["intent_response_key"] = label
        messages.append(Message(data=data))
training = TrainingData(training_examples=messages)
tokenizer.process_training_data(training)

storage = LocalModelStorage(Path(tempfile.mkdtemp()))
resource = Resource("topics")
context = ExecutionContext(GraphSchema({}), "test")
TopicClassifier.create({}, storage, resource, context).train(training)
loaded = TopicClassifier.load({}, storage, resource, context)

queries = [Message(data={"text": t}) for t in ["lương tối thiểu vùng 1", "hom nay mua ko"]]
tokenizer.process(queries)
loaded.process(queries)
out = []
for message in queries:
    parse = {k: message.get(k) for k in ("intent", "intent_ranking", "response_selector")}
    out.append({"parse": parse, "faq": faq_ranking(parse)})
print(json.dumps(out))
"""

EXAMPLES = {
    "faq/luong_toi_thieu_vung": [
        "luong toi thieu vung bao nhieu",
        "lương tối thiểu vùng 2026",
        "ltt vung 1 la bn",
        "muc luong toi thieu vung moi",
    ],
    "faq/nghi_phep_nam": [
        "nghi phep nam duoc may ngay",
        "phép năm bao nhiêu ngày",
        "1 nam dc nghi phep bn ngay",
        "so ngay phep nam",
    ],
    "out_of_scope": [
        "hom nay troi mua ko",
        "thời tiết mai thế nào",
        "troi nang hay mua",
        "du bao thoi tiet",
    ],
}


def classify() -> list[dict]:
    stdout = run_in_rasa_env(["-c", SCRIPT], json.dumps(EXAMPLES), timeout=180)
    return json.loads(stdout.strip().splitlines()[-1])


def test_trained_and_reloaded_classifier_gives_intents_and_faq_ranking():
    wage, weather = classify()

    # an FAQ question: the intent is the retrieval intent, with its best entry's confidence;
    # the selector ranks the entries and is what the decision rule reads
    intents = {item["name"]: item["confidence"] for item in wage["parse"]["intent_ranking"]}
    assert wage["parse"]["intent"]["name"] == "faq"
    assert set(intents) == {"faq", "out_of_scope"}
    slugs = [slug for slug, _ in wage["faq"]]
    assert slugs == ["luong_toi_thieu_vung", "nghi_phep_nam"]
    assert wage["faq"][0][1] == intents["faq"] > wage["faq"][1][1]
    # probabilities over all classes (entries and intents) sum to one
    assert abs(sum(conf for _, conf in wage["faq"]) + intents["out_of_scope"] - 1.0) < 1e-6
    selector = wage["parse"]["response_selector"]
    assert selector["all_retrieval_intents"] == ["faq"]
    assert selector["faq"]["response"]["intent_response_key"] == "faq/luong_toi_thieu_vung"
    assert selector["faq"]["response"]["utter_action"] == "utter_faq/luong_toi_thieu_vung"

    # a message of another intent competes with the FAQ entries in the same model
    assert weather["parse"]["intent"]["name"] == "out_of_scope"
    assert weather["parse"]["intent_ranking"][0]["confidence"] > intents["out_of_scope"]

"""One classifier for intents and FAQ topics: TF-IDF n-grams and a logistic regression.

Runs in Rasa after ``VietnameseTokenizer`` and replaces the pair "intent classifier +
ResponseSelector". Every FAQ entry ``faq/<slug>`` and every other intent is one class of a single
multinomial model, so topics compete with out-of-scope and conversation intents directly. Its
output has Rasa's usual shape: ``intent`` and ``intent_ranking`` (the ``faq`` intent's confidence
is its best entry's, so the top intent is the model's top class) and ``response_selector.faq``
(the entries, best first), which is what ``nlu.decision`` reads. Why not Rasa's own components:
docs/decisions/0004-one-classifier-for-intents-and-topics.md.

Uses scikit-learn and skops, which Rasa itself depends on.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

logger = logging.getLogger(__name__)

MODEL_FILE = "topic_classifier.skops"
# Types skops does not trust by default but this model is made of (checked at load time).
TRUSTED_MODULE_PREFIXES = ("numpy.", "scipy.", "sklearn.", "builtins.")


def joined_tokens(message: Message) -> str:
    """The message as the tokenizer normalized it, words separated by spaces."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return " ".join(token.text for token in tokens)


def selector_output(retrieval_intent: str, ranking: list[tuple[str, float]]) -> dict[str, Any]:
    """``response_selector`` in the shape Rasa's ResponseSelector gives it.

    ``ranking`` holds (``faq/<slug>``, confidence) pairs, best first.
    """
    best_key, best_confidence = ranking[0]
    return {
        "all_retrieval_intents": [retrieval_intent],
        retrieval_intent: {
            "response": {
                "responses": None,
                "confidence": best_confidence,
                "intent_response_key": best_key,
                "utter_action": f"utter_{best_key}",
            },
            "ranking": [
                {"id": index, "confidence": confidence, "intent_response_key": key}
                for index, (key, confidence) in enumerate(ranking)
            ],
        },
    }


def rankings(
    classes: list[str], probabilities: np.ndarray, retrieval_intent: str, length: int
) -> tuple[list[dict[str, Any]], list[tuple[str, float]]]:
    """The intent ranking and the FAQ ranking for one message's class probabilities.

    The retrieval intent's confidence is its best entry's probability: summing over seventy
    entries would let many weak guesses outvote a clear out-of-scope or chit-chat class.
    """
    prefix = retrieval_intent + "/"
    intents: dict[str, float] = {}
    entries: list[tuple[str, float]] = []
    for label, probability in zip(classes, probabilities.tolist(), strict=True):
        if label.startswith(prefix):
            entries.append((label, probability))
            intents[retrieval_intent] = max(intents.get(retrieval_intent, 0.0), probability)
        else:
            intents[label] = probability
    intent_ranking = [
        {"name": name, "confidence": confidence}
        for name, confidence in sorted(intents.items(), key=lambda item: -item[1])
    ]
    entries.sort(key=lambda item: -item[1])
    return intent_ranking[:length], entries[:length]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TopicClassifier(GraphComponent, IntentClassifier):
    """Classifies a message into an intent or an FAQ entry (see the module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Word n-grams, character n-grams within words, and the model's settings."""
        return {
            "retrieval_intent": "faq",
            "word_ngrams": [1, 2],
            "char_ngrams": [2, 5],
            "C": 100.0,
            "max_iter": 3000,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Pipeline | None = None,
    ) -> None:
        """Keep the config, where to persist, and a trained model if there is one."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TopicClassifier:
        """An untrained classifier."""
        return cls(config, model_storage, resource)

    def _new_model(self) -> Pipeline:
        word_min, word_max = self.config["word_ngrams"]
        char_min, char_max = self.config["char_ngrams"]
        features = make_union(
            TfidfVectorizer(
                analyzer="word",
                ngram_range=(word_min, word_max),
                token_pattern=r"\S+",
                sublinear_tf=True,
            ),
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(char_min, char_max), sublinear_tf=True
            ),
        )
        classifier = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        return make_pipeline(features, classifier)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit on every example that has an intent; retrieval intents by their entry."""
        texts, labels = [], []
        for example in training_data.intent_examples:
            label = example.get(INTENT_RESPONSE_KEY) or example.get(INTENT)
            text = joined_tokens(example)
            if label and text:
                texts.append(text)
                labels.append(label)
        if not texts:
            logger.warning("TopicClassifier: no training examples, nothing trained.")
            return self._resource
        self.model = self._new_model().fit(texts, labels)
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Set ``intent``, ``intent_ranking`` and the FAQ ranking on each message."""
        if self.model is None:
            return messages
        classes = [str(label) for label in self.model.classes_]
        probabilities = self.model.predict_proba([joined_tokens(m) for m in messages])
        retrieval_intent = self.config["retrieval_intent"]
        for message, row in zip(messages, probabilities, strict=True):
            intent_ranking, entries = rankings(
                classes, row, retrieval_intent, self.config["ranking_length"]
            )
            message.set("intent", intent_ranking[0], add_to_output=True)
            message.set("intent_ranking", intent_ranking, add_to_output=True)
            if entries:
                message.set(
                    "response_selector",
                    selector_output(retrieval_intent, entries),
                    add_to_output=True,
                )
        return messages

    def persist(self) -> None:
        """Write the fitted model into Rasa's model storage."""
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.model, directory / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TopicClassifier:
        """Load the fitted model; refuses a file holding types from other libraries."""
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                untrusted = sio.get_untrusted_types(file=path)
                foreign = [t for t in untrusted if not t.startswith(TRUSTED_MODULE_PREFIXES)]
                if foreign:
                    raise ValueError(f"unexpected types in {path.name}: {foreign}")
                model = sio.load(path, trusted=untrusted)
        except ValueError as error:
            logger.warning("TopicClassifier: no usable trained model (%s).", error)
            model = None
        return cls(config, model_storage, resource, model)

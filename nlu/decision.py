"""The decision rule: answer, clarify or hand over, from a Rasa parse result.

One pure function shared by the live bot (``actions``) and the classify command, so that what
the command prints is exactly what members get.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

FAQ_INTENT = "faq"
FALLBACK_INTENT = "nlu_fallback"
CHOOSE_INTENT = "choose_faq"
HANDOFF_INTENTS = {"request_human": "member_request", "feedback_wrong": "feedback_wrong"}
CANNED_INTENTS = frozenset({"greet", "goodbye", "thank", "feedback_helpful", "out_of_scope"})

# Thresholds on the topic classifier's confidence for the top FAQ entry: answer only when it is
# high enough and far ahead of the runner-up; otherwise clarify. Chosen with `make evaluate
# --salt calibration` (a held-out split other than the reported one) as the setting that answers
# the most questions with at most 2.5 % wrong answers (a margin under the 3 % target for the
# split-to-split spread); see docs/nlu-threshold-calibration.md.
ANSWER_CONFIDENCE = 0.5
ANSWER_RATIO = 6.0
SUGGEST_CONFIDENCE = 0.08
CANNED_CONFIDENCE = 0.6
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Decision:
    """What the bot does with one message.

    ``kind`` is ``answer`` (an FAQ answer when ``faq`` is set, otherwise a canned reply for
    ``intent``), ``clarify`` (offer ``suggestions``) or ``handoff`` (to union staff).
    ``handoff`` is also true for an answer on a sensitive topic: answer, then hand over.
    """

    kind: str
    intent: str
    confidence: float
    faq: str | None = None
    suggestions: tuple[str, ...] = field(default=())
    handoff: bool = False
    reason: str | None = None


def faq_ranking(parse: dict[str, Any]) -> list[tuple[str, float]]:
    """(slug, confidence) pairs from the parse's ``response_selector``, best first."""
    selector = (parse.get("response_selector") or {}).get(FAQ_INTENT) or {}
    ranking = []
    for item in selector.get("ranking") or []:
        key = str(item.get("intent_response_key") or "")
        if key.startswith(FAQ_INTENT + "/"):
            ranking.append((key.split("/", 1)[1], float(item.get("confidence") or 0.0)))
    return sorted(ranking, key=lambda pair: pair[1], reverse=True)


def _chosen_slug(parse: dict[str, Any]) -> str | None:
    for entity in parse.get("entities") or []:
        if entity.get("entity") == "faq_slug" and entity.get("value"):
            return str(entity["value"])
    return None


def _top_non_fallback(parse: dict[str, Any]) -> tuple[str, float]:
    for item in parse.get("intent_ranking") or []:
        if item.get("name") != FALLBACK_INTENT:
            return str(item.get("name")), float(item.get("confidence") or 0.0)
    intent = parse.get("intent") or {}
    return str(intent.get("name") or FALLBACK_INTENT), float(intent.get("confidence") or 0.0)


def decide(
    parse: dict[str, Any],
    *,
    clarified_before: bool = False,
    sensitive: Collection[str] = (),
    known: Collection[str] | None = None,
) -> Decision:
    """Decide what to do with a parsed message.

    ``clarified_before``: the bot's previous turn was a clarification, so being unsure again
    means handing over. ``sensitive``: slugs answered and then handed to staff. ``known``: the
    slugs that exist in the FAQ store (others are never answered).
    """
    intent = str((parse.get("intent") or {}).get("name") or FALLBACK_INTENT)
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)

    if intent in HANDOFF_INTENTS:
        return Decision(
            "handoff", intent, confidence, handoff=True, reason=HANDOFF_INTENTS[intent]
        )
    if intent == CHOOSE_INTENT:
        slug = _chosen_slug(parse)
        if slug and (known is None or slug in known):
            return Decision(
                "answer",
                intent,
                1.0,
                faq=slug,
                handoff=slug in sensitive,
                reason="sensitive" if slug in sensitive else None,
            )
        return Decision("handoff", intent, confidence, handoff=True, reason="unknown_choice")

    top_intent, top_conf = _top_non_fallback(parse)
    if top_intent in CANNED_INTENTS and top_conf >= CANNED_CONFIDENCE:
        return Decision("answer", top_intent, top_conf)

    ranking = [(s, c) for s, c in faq_ranking(parse) if known is None or s in known]
    best, best_conf = ranking[0] if ranking else (None, 0.0)
    second_conf = ranking[1][1] if len(ranking) > 1 else 0.0
    faq_like = top_intent == FAQ_INTENT
    clear = best_conf >= ANSWER_CONFIDENCE and best_conf >= ANSWER_RATIO * second_conf
    if best and faq_like and clear:
        return Decision(
            "answer",
            FAQ_INTENT,
            best_conf,
            faq=best,
            handoff=best in sensitive,
            reason="sensitive" if best in sensitive else None,
        )
    if clarified_before:
        return Decision("handoff", intent, best_conf, handoff=True, reason="not_understood")
    suggestions = tuple(s for s, c in ranking[:MAX_SUGGESTIONS] if c >= SUGGEST_CONFIDENCE)
    return Decision("clarify", intent, best_conf, suggestions=suggestions)

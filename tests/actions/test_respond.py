"""The respond action with an in-memory FAQ store: answer, clarify, hand over."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.faq_store import InMemoryFaqStore
from actions.respond import CANNED_RESPONSES, ActionRespond
from bot.db.models import FaqEntry

ROOT = Path(__file__).resolve().parents[2]


def entry(slug: str, sensitive: bool = False) -> FaqEntry:
    return FaqEntry(
        slug=slug,
        category="law",
        question=f"Câu hỏi {slug}?",
        answer=f"Trả lời {slug}.",
        legal_source="BLLĐ 2019 Điều 25",
        effective_from=dt.date(2021, 1, 1),
        effective_note="",
        reviewed=dt.date(2026, 11, 21),
        sensitive=sensitive,
        uncertain="",
        source_hash="x",
        updated_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
    )


STORE = InMemoryFaqStore(
    [entry("thu_viec"), entry("hop_dong_lao_dong"), entry("sa_thai_ky_luat", sensitive=True)]
)


def tracker(
    intent: str,
    ranking: list[tuple[str, float]] = (),
    clarified: bool = False,
    entities: list[dict] = (),
) -> Tracker:
    latest = {
        "text": "...",
        "intent": {"name": intent, "confidence": 0.95},
        "intent_ranking": [{"name": intent, "confidence": 0.95}],
        "entities": list(entities),
        "response_selector": {
            "faq": {
                "ranking": [
                    {"intent_response_key": f"faq/{s}", "confidence": c} for s, c in ranking
                ]
            }
        },
    }
    return Tracker("c1", {"clarified_before": clarified}, latest, [], False, None, {}, "")


async def run(t: Tracker) -> tuple[list[dict], list]:
    dispatcher = CollectingDispatcher()
    events = await ActionRespond(STORE).run(dispatcher, t, {})
    return dispatcher.messages, events


async def test_answer_carries_source_date_and_quick_replies():
    messages, events = await run(tracker("faq", [("thu_viec", 0.9), ("hop_dong_lao_dong", 0.05)]))
    [message] = messages
    payload = message["custom"]
    assert payload["kind"] == "answer" and payload["faq"] == "thu_viec"
    assert "Căn cứ: BLLĐ 2019 Điều 25." in payload["text"]
    assert "Áp dụng từ: 01/01/2021." in payload["text"]
    titles = [q["title"] for q in payload["quick_replies"]]
    assert titles == ["Hữu ích", "Chưa đúng", "Gặp cán bộ"]
    assert all(len(t) <= 20 for t in titles)
    assert events == [SlotSet("clarified_before", False)]


async def test_sensitive_answer_is_followed_by_a_handoff():
    messages, _ = await run(tracker("faq", [("sa_thai_ky_luat", 0.93)]))
    assert [m["custom"]["kind"] for m in messages] == ["answer", "handoff"]
    assert messages[1]["custom"]["handoff"] == {"reason": "sensitive", "topic": "sa_thai_ky_luat"}
    assert "24 giờ" in messages[1]["custom"]["text"]


async def test_unsure_offers_suggestions_then_hands_over_on_second_miss():
    messages, events = await run(tracker("faq", [("thu_viec", 0.4), ("hop_dong_lao_dong", 0.35)]))
    payload = messages[0]["custom"]
    assert payload["kind"] == "clarify"
    assert "1. Câu hỏi thu_viec?" in payload["text"]
    assert payload["quick_replies"][0] == {
        "title": "Câu 1",
        "payload": '/choose_faq{"faq_slug":"thu_viec"}',
    }
    assert payload["quick_replies"][-1]["title"] == "Gặp cán bộ"
    assert events == [SlotSet("clarified_before", True)]

    messages, _ = await run(
        tracker("faq", [("thu_viec", 0.4), ("hop_dong_lao_dong", 0.35)], clarified=True)
    )
    # staff see what the bot guessed the question was about
    assert messages[0]["custom"]["handoff"] == {"reason": "not_understood", "topic": "thu_viec"}


async def test_chosen_suggestion_is_answered():
    messages, _ = await run(
        tracker("choose_faq", entities=[{"entity": "faq_slug", "value": "hop_dong_lao_dong"}])
    )
    assert messages[0]["custom"]["faq"] == "hop_dong_lao_dong"


async def test_asking_for_a_person_hands_over():
    messages, _ = await run(tracker("request_human"))
    assert messages[0]["custom"]["kind"] == "handoff"
    assert messages[0]["custom"]["handoff"] == {"reason": "member_request"}


async def test_greeting_uses_the_domain_response():
    messages, _ = await run(tracker("greet"))
    assert messages[0]["response"] == "utter_greet"


def test_domain_lists_exactly_the_registered_actions_and_canned_responses():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(domain["actions"]) == set(executor.actions)
    assert set(CANNED_RESPONSES.values()) <= set(domain["responses"])
    assert set(CANNED_RESPONSES) <= set(domain["intents"])

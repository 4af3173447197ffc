"""The one action every message goes to: apply the decision rule, then act on it.

Rules in nlu_data/rules.yml send every intent here; it answers, clarifies or hands over.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import render
from actions.faq_store import FaqStore, default_store
from nlu.decision import Decision, decide, faq_ranking

CANNED_RESPONSES = {
    "greet": "utter_greet",
    "goodbye": "utter_goodbye",
    "thank": "utter_welcome",
    "feedback_helpful": "utter_feedback_thanks",
    "out_of_scope": "utter_out_of_scope",
}


class ActionRespond(Action):
    """Answer from the FAQ store, clarify with suggestions, or hand over to staff."""

    def __init__(self, store: FaqStore | None = None) -> None:
        self._store = store

    def name(self) -> str:
        return "action_respond"

    @property
    def store(self) -> FaqStore:
        return self._store or default_store()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        catalog = await self.store.catalog()
        parse = tracker.latest_message or {}
        decision = decide(
            parse,
            clarified_before=bool(tracker.get_slot("clarified_before")),
            sensitive=catalog.sensitive,
            known=catalog.known,
        )
        guesses = [slug for slug, _ in faq_ranking(parse) if slug in catalog.known]
        return await self._act(decision, dispatcher, guesses[0] if guesses else None)

    async def _act(
        self, decision: Decision, dispatcher: CollectingDispatcher, guess: str | None = None
    ) -> list[EventType]:
        """Reply; a handoff tells staff the topic the bot thinks the question is about."""
        if decision.kind == "answer" and decision.faq:
            entry = await self.store.get(decision.faq)
            if entry is None:  # removed since the model was trained
                dispatcher.utter_message(json_message=render.handoff("not_understood"))
                return [SlotSet("clarified_before", False)]
            dispatcher.utter_message(json_message=render.answer(entry))
            if decision.handoff:
                dispatcher.utter_message(json_message=render.handoff("sensitive", entry.slug))
            return [SlotSet("clarified_before", False)]
        if decision.kind == "answer":
            dispatcher.utter_message(response=CANNED_RESPONSES.get(decision.intent, "utter_greet"))
            return [SlotSet("clarified_before", False)]
        if decision.kind == "clarify":
            entries = [e for s in decision.suggestions if (e := await self.store.get(s))]
            dispatcher.utter_message(json_message=render.clarify(entries))
            return [SlotSet("clarified_before", True)]
        reason = decision.reason or "member_request"
        dispatcher.utter_message(json_message=render.handoff(reason, guess))
        return [SlotSet("clarified_before", False)]

from nlu.decision import Decision, decide


def parse(
    intent: str,
    confidence: float,
    ranking: list[tuple[str, float]] = (),
    entities: list[dict] = (),
    intents: list[tuple[str, float]] = (),
) -> dict:
    return {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in intents]
        or [{"name": intent, "confidence": confidence}],
        "entities": list(entities),
        "response_selector": {
            "faq": {
                "ranking": [
                    {"intent_response_key": f"faq/{slug}", "confidence": c} for slug, c in ranking
                ]
            }
        },
    }


def test_confident_faq_is_answered():
    d = decide(parse("faq", 0.95, [("luong_toi_thieu_vung", 0.9), ("thu_viec", 0.05)]))
    assert d == Decision("answer", "faq", 0.9, faq="luong_toi_thieu_vung")


def test_close_second_guess_asks_to_clarify():
    d = decide(parse("faq", 0.95, [("nghi_phep_nam", 0.5), ("tien_phep_nam_chua_nghi", 0.45)]))
    assert d.kind == "clarify"
    assert d.suggestions == ("nghi_phep_nam", "tien_phep_nam_chua_nghi")


def test_unsure_after_a_clarification_hands_over():
    d = decide(parse("faq", 0.9, [("a", 0.4), ("b", 0.35)]), clarified_before=True)
    assert (d.kind, d.handoff, d.reason) == ("handoff", True, "not_understood")


def test_sensitive_topic_is_answered_and_handed_over():
    d = decide(parse("faq", 0.97, [("sa_thai_ky_luat", 0.92)]), sensitive={"sa_thai_ky_luat"})
    assert (d.kind, d.faq, d.handoff, d.reason) == ("answer", "sa_thai_ky_luat", True, "sensitive")


def test_request_for_a_person_hands_over():
    d = decide(parse("request_human", 0.99))
    assert (d.kind, d.reason) == ("handoff", "member_request")


def test_chosen_suggestion_is_answered_with_full_confidence():
    d = decide(
        parse("choose_faq", 1.0, entities=[{"entity": "faq_slug", "value": "thu_viec"}]),
        known={"thu_viec"},
    )
    assert (d.kind, d.faq, d.confidence) == ("answer", "thu_viec", 1.0)


def test_choice_of_unknown_slug_hands_over():
    d = decide(
        parse("choose_faq", 1.0, entities=[{"entity": "faq_slug", "value": "x"}]),
        known={"thu_viec"},
    )
    assert d.kind == "handoff"


def test_confident_chitchat_gets_a_canned_answer_without_faq():
    d = decide(parse("greet", 0.98, [("luong_toi_thieu_vung", 0.2)]))
    assert (d.kind, d.intent, d.faq) == ("answer", "greet", None)


def test_fallback_looks_below_nlu_fallback_and_does_not_answer_unsure_faq():
    p = parse(
        "nlu_fallback",
        0.45,
        [("thu_viec", 0.3), ("hop_dong_lao_dong", 0.2)],
        intents=[("nlu_fallback", 0.45), ("faq", 0.4), ("greet", 0.3)],
    )
    d = decide(p)
    assert d.kind == "clarify"
    assert d.suggestions == ("thu_viec", "hop_dong_lao_dong")


def test_slugs_missing_from_the_store_are_never_answered():
    d = decide(parse("faq", 0.95, [("removed_topic", 0.95)]), known={"thu_viec"})
    assert d.kind == "clarify"
    assert d.suggestions == ()

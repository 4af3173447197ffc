from bot.lib.rasa_replies import parse_turn


def test_custom_payloads_become_replies_with_kind_faq_and_quick_replies():
    turn = parse_turn(
        [
            {
                "recipient_id": "1",
                "custom": {
                    "kind": "answer",
                    "faq": "thu_viec",
                    "text": "Thử việc tối đa 60 ngày.",
                    "quick_replies": [
                        {"title": "Hữu ích", "payload": "/feedback_helpful"},
                        {"title": "", "payload": "/x"},
                    ],
                },
            },
            {
                "recipient_id": "1",
                "custom": {
                    "kind": "handoff",
                    "text": "Đã chuyển cán bộ.",
                    "handoff": {"reason": "sensitive"},
                },
            },
        ],
        in_reply_to=7,
    )
    answer, handoff = turn.replies
    assert (answer.kind, answer.author, answer.data) == (
        "answer",
        "bot",
        {"in_reply_to": 7, "faq": "thu_viec"},
    )
    assert answer.quick_replies == ({"title": "Hữu ích", "payload": "/feedback_helpful"},)
    assert handoff.kind == "handoff"
    assert turn.handoff_reason == "sensitive"


def test_plain_text_and_buttons_are_accepted():
    turn = parse_turn([{"text": "Xin chào", "buttons": [{"title": "A", "payload": "/a"}]}], 1)
    assert turn.replies[0].text == "Xin chào"
    assert turn.replies[0].quick_replies == ({"title": "A", "payload": "/a"},)
    assert turn.handoff_reason is None


def test_empty_messages_are_skipped():
    assert parse_turn([{"custom": {"kind": "answer"}}, {"image": "x"}], 1).replies == ()

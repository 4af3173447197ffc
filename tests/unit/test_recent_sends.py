"""Which echoes the webhook may leave unstored: those of sends recorded in this process."""

from bot.channels.base import PageEcho
from bot.recent_sends import RecentSends


def echo(mid: str, metadata: str | None = None, channel: str = "facebook") -> PageEcho:
    return PageEcho(channel, "page", "member", mid, "Câu trả lời.", metadata=metadata)


def test_an_echo_is_covered_by_its_outbox_item_or_by_the_platforms_id():
    recent = RecentSends()
    recent.add(42, "facebook", "m_42")
    assert recent.covers(echo("m_other", metadata="outbox:42"))
    assert recent.covers(echo("m_42"))
    assert not recent.covers(echo("m_42", channel="zalo"))
    assert not recent.covers(echo("m_other", metadata="outbox:43"))
    assert not recent.covers(echo("m_other", metadata="staff note 42"))


def test_only_the_newest_sends_are_kept():
    recent = RecentSends(size=4)
    for outbox_id in range(1, 4):  # two keys each: the outbox item and the platform's id
        recent.add(outbox_id, "zalo", f"z{outbox_id}")
    assert not recent.covers(echo("x", metadata="outbox:1", channel="zalo"))
    assert not recent.covers(echo("z1", channel="zalo"))
    assert recent.covers(echo("z2", channel="zalo"))
    assert recent.covers(echo("x", metadata="outbox:3", channel="zalo"))


def test_a_send_without_the_platforms_id_is_known_by_its_outbox_item():
    recent = RecentSends()
    recent.add(7, "facebook", None)
    assert recent.covers(echo("m_7", metadata="outbox:7"))
    assert not recent.covers(echo(""))

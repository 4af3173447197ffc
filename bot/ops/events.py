"""Recording a webhook delivery's events: members' messages, confirmed sends, staff replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import InboundMessage, MemberEvent, PageEcho, WebhookEvent
from bot.channels.facebook.send import outbox_id_from
from bot.ops import echoes
from bot.ops.inbox import ReplyTarget, do_record_inbound


@dataclass(frozen=True)
class Tally:
    """What recording a webhook delivery's events changed."""

    messages: int = 0
    duplicates: int = 0
    staff_replies: int = 0
    confirmed_sends: int = 0
    member_events: int = 0
    ignored: int = 0


async def do_record_events(
    session: AsyncSession,
    events: Sequence[WebhookEvent],
    *,
    now: dt.datetime,
    reply_target: ReplyTarget,
    our_app_ids: frozenset[str],
) -> Tally:
    """Store a delivery's events: members' messages, our sends confirmed, staff replies, events.

    ``our_app_ids``: the apps whose echoes are our own sends (never staff replies).
    """
    counts = dict.fromkeys(Tally.__dataclass_fields__, 0)
    for event in events:
        if isinstance(event, InboundMessage):
            recorded = await do_record_inbound(
                session, event, now=now, reply_target=reply_target(event.channel, event.page_id)
            )
            counts["duplicates" if recorded.duplicate else "messages"] += 1
        elif isinstance(event, PageEcho):
            outbox_id = outbox_id_from(event.metadata)
            if outbox_id is not None:
                confirmed = await echoes.do_confirm_sent(
                    session, outbox_id, event.platform_message_id, now
                )
                counts["confirmed_sends"] += int(confirmed)
            elif event.app_id in our_app_ids or await echoes.is_our_send(session, event):
                counts["ignored"] += 1
            elif await echoes.do_record_staff_echo(session, event, now):
                counts["staff_replies"] += 1
        elif isinstance(event, MemberEvent):
            recorded_event = await echoes.do_record_member_event(session, event, now)
            counts["member_events"] += int(recorded_event)
        else:
            counts["ignored"] += 1
    return Tally(**counts)

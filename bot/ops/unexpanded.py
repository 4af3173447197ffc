"""A member's events in deliveries acknowledged but not expanded yet, for ``make member export``.

The webhook stores a delivery as it arrived and a worker expands it a moment later (longer
behind a backlog, or much later for one kept after a failed expansion). Until then the
member's words are only in its raw body: on SQLite in the receive log beside the database
(rows after the log's cursor), on both databases in ``webhook_deliveries``. An export reads
these first, then what is expanded, so that a delivery expanded meanwhile shows in both
places rather than in neither. Events of a member erased since the delivery arrived are left
out, as the expander will leave them out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import InboundMessage, InvalidPayload, MemberEvent, PageEcho
from bot.channels.registry import every_event
from bot.ops import erasures
from bot.web.body import BadJson, parse_json


@dataclasses.dataclass
class WaitingEvents:
    """The member's events found so far, and how many waiting deliveries could not be read."""

    channel: str
    page_id: str
    user_id: str
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    unreadable: int = 0

    async def add(
        self, session: AsyncSession, channel: str, body: bytes, received_at: dt.datetime
    ) -> None:
        """Keep the member's events of one waiting delivery, of any channel.

        One that does not parse (kept after failing to expand) is only counted: it cannot be
        told whose it is, and other members' words must not go into the export.
        """
        try:
            events = every_event(channel, parse_json(body))
        except (BadJson, InvalidPayload):
            self.unreadable += 1
            return
        member = (self.channel, self.page_id, self.user_id)
        mine = [
            event
            for event in events
            if isinstance(event, InboundMessage | PageEcho | MemberEvent)
            and (event.channel, event.page_id, event.user_id) == member
        ]
        if mine:
            mine = erasures.without_erased(mine, await erasures.since(session, received_at))
        self.events += [_exported(event, received_at) for event in mine]


def _exported(
    event: InboundMessage | PageEcho | MemberEvent, received_at: dt.datetime
) -> dict[str, Any]:
    """The event as the export shows it: what the member said, did, or was sent."""
    exported: dict[str, Any] = {"received_at": received_at.isoformat()}
    if isinstance(event, MemberEvent):
        exported["kind"] = event.kind
    else:
        exported["kind"] = "message"
        exported["from"] = "member" if isinstance(event, InboundMessage) else "page"
        exported["platform_message_id"] = event.platform_message_id
        exported["text"] = event.text
    if isinstance(event, InboundMessage):
        exported["payload"] = event.payload
        exported["attachments"] = list(event.attachments)
    exported["platform_ts"] = event.platform_ts.isoformat() if event.platform_ts else None
    return exported

"""Checking that a webhook request comes from Zalo (platforms.md §1.4).

Zalo signs ``app_id + raw body + timestamp + OA Secret Key`` with plain SHA-256 (not HMAC, and
not the App Secret). The scheme has no replay protection besides the signed timestamp, hence
``timestamp_fresh``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from bot.channels.zalo.parse import epoch_ms, timestamp_of

MAC_PREFIX_RE = re.compile(r"\A\s*mac\s*=", re.IGNORECASE)
HEX_DIGEST_RE = re.compile(r"[0-9a-fA-F]{64}")


def signature_ok(raw: bytes, header: str | None, body: Mapping[str, Any], oa_secret: str) -> bool:
    """Whether ``X-ZEvent-Signature`` matches the body under the OA's secret key.

    Args:
        raw: The request body exactly as received (never re-serialized JSON).
        header: The ``X-ZEvent-Signature`` header value, ``mac=<hex>``, if any; the ``mac=``
            prefix is optional and the hex digits may be in either case.
        body: ``raw`` decoded, for its ``app_id`` and ``timestamp`` (or ``timeStamp``).
        oa_secret: The OA Secret Key from the app's Webhook page; an empty one never matches.

    Returns:
        True if the header carries the SHA-256 of ``app_id + raw + timestamp + oa_secret``.
    """
    given = MAC_PREFIX_RE.sub("", header or "", count=1).strip()
    app_id = body.get("app_id")
    timestamp = timestamp_of(body)
    if not HEX_DIGEST_RE.fullmatch(given) or not oa_secret:
        return False
    if app_id is None or app_id == "" or timestamp is None or timestamp == "":
        return False
    signed = str(app_id).encode() + raw + str(timestamp).encode() + oa_secret.encode()
    return hmac.compare_digest(given.lower(), hashlib.sha256(signed).hexdigest())


def timestamp_fresh(body: Mapping[str, Any], now: dt.datetime, skew: dt.timedelta) -> bool:
    """Whether the event's timestamp (epoch ms) is within ``skew`` of ``now`` (an aware time).

    A signed request replayed later, or one with an unreadable timestamp, is not fresh.
    """
    sent = epoch_ms(timestamp_of(body))
    return sent is not None and abs(now - sent) <= skew

"""Signed Messenger webhook deliveries carrying real member questions."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import http_post
from nlu.faq_source import load_dir
from tools.paths import ROOT

PAGE_ID = "1234567890"
PAGE_TOKEN = "bench-page-token"
APP_SECRET = "bench-app-secret"
APP_ID = "1111111111"
PATH = "/webhooks/facebook"


def member_questions(seed: int = 7, faq_dir: Path = ROOT / "nlu_data" / "faq") -> list[str]:
    """Every FAQ training example (real members' wording), in a fixed shuffled order."""
    texts = [text for entry in load_dir(faq_dir) for text in entry.examples]
    random.Random(seed).shuffle(texts)
    return texts


def facebook_env(graph_url: str) -> dict[str, str]:
    """Gateway settings for one Facebook page whose Send API is ``graph_url``."""
    prefix = f"FACEBOOK_PAGE_{PAGE_ID}_"
    return {
        "FACEBOOK_PAGES": PAGE_ID,
        "FACEBOOK_VERIFY_TOKEN": "bench-verify",
        prefix + "APP_SECRET": APP_SECRET,
        prefix + "ACCESS_TOKEN": PAGE_TOKEN,
        prefix + "APP_ID": APP_ID,
        "FACEBOOK_GRAPH_URL": graph_url,
    }


def delivery(psid: str, mid: str, text: str, stamp_ms: int) -> bytes:
    """One delivery with one text message, as Messenger sends it."""
    event = {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": stamp_ms,
        "message": {"mid": mid, "text": text},
    }
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": stamp_ms, "messaging": [event]}]}
    return json.dumps(body, ensure_ascii=False).encode()


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    """``X-Hub-Signature-256`` of a body."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Posted:
    """A message the generator sent: whose, which, and when (wall clock)."""

    psid: str
    mid: str
    text: str
    at: float


@dataclass
class Webhooks:
    """Makes signed POSTs to ``host:port``: members in turn, texts in turn, unique mids.

    With ``keep``, every message made is remembered in ``posted``.
    """

    host: str
    port: int
    texts: list[str]
    members: list[str]
    tag: str
    keep: bool = False
    posted: list[Posted] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._numbers = itertools.count()
        self._texts: Iterator[str] = itertools.cycle(self.texts)
        self._members: Iterator[str] = itertools.cycle(self.members)

    def message(self, psid: str, text: str) -> bytes:
        """The request for one message from ``psid``."""
        mid = f"m_{self.tag}_{next(self._numbers)}"
        now = time.time()
        raw = delivery(psid, mid, text, int(now * 1000))
        if self.keep:
            self.posted.append(Posted(psid, mid, text, now))
        headers = {"X-Hub-Signature-256": signature(raw)}
        return http_post(self.host, self.port, PATH, raw, headers)

    def next(self) -> bytes:
        """The request for the next member's next message."""
        return self.message(next(self._members), next(self._texts))

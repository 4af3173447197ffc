"""Checking that a webhook request comes from Meta."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Mapping

SIGNATURE_PREFIX = "sha256="
HEX_DIGEST_RE = re.compile(r"[0-9a-fA-F]{64}")


def signature_ok(raw: bytes, header: str | None, app_secrets: Collection[str]) -> bool:
    """Whether ``X-Hub-Signature-256`` is the HMAC-SHA256 of the raw body under an App Secret.

    Args:
        raw: The request body exactly as received (never re-serialized JSON).
        header: The ``X-Hub-Signature-256`` header value, ``sha256=<hex>``, if any.
        app_secrets: The App Secrets to accept (several during a secret rotation); empty
            secrets are skipped.

    Returns:
        True if the header carries a well-formed digest that matches one of the secrets.
    """
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :]
    if not HEX_DIGEST_RE.fullmatch(given):
        return False
    given = given.lower()
    return any(
        hmac.compare_digest(given, hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest())
        for secret in app_secrets
        if secret
    )


def handshake_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo for a valid subscription handshake, else None (403).

    Args:
        query: The query parameters of the ``GET`` request.
        verify_token: The token typed into the App Dashboard; an empty one never matches.

    Returns:
        The challenge when ``hub.mode`` is ``subscribe``, the token matches and the challenge
        is not empty; otherwise None.
    """
    if not verify_token or query.get("hub.mode") != "subscribe":
        return None
    token = query.get("hub.verify_token", "")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return query.get("hub.challenge") or None

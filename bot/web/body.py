"""Reading a JSON request body safely: invalid, undecodable or absurdly nested JSON is a 400.

Strings come back storable: NUL characters (which PostgreSQL text cannot hold) are removed and
lone surrogates (which UTF-8 cannot encode) become "?", so a member's odd message is stored
rather than failing the whole delivery.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web


class BadJson(ValueError):
    """The body is not JSON we can read."""


def clean_text(text: str) -> str:
    """``text`` without NUL characters and with lone surrogates replaced."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean(item) for key, item in value.items()}
    return value


# In UTF-8 JSON a NUL can only be written as an escape (raw control characters are invalid in
# strings), and a surrogate as an escape or as its three bytes (``json.loads`` decodes them
# with "surrogatepass"): a body with neither has nothing to clean. (A false match, say an
# escaped backslash before "u0000", only costs the walk.)
_MAY_NEED_CLEANING = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


def parse_json(raw: bytes) -> Any:
    """The decoded, cleaned body; BadJson for invalid JSON (too deeply nested included)."""
    try:
        value = json.loads(raw)
        if json.detect_encoding(raw) == "utf-8" and not _MAY_NEED_CLEANING.search(raw):
            return value
        return _clean(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadJson("body is not valid JSON") from exc


async def json_body(request: web.Request) -> Any:
    """The request's JSON body (the size limit applies: 413 from aiohttp); BadJson otherwise."""
    return parse_json(await request.read())

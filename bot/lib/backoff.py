"""Retry delays."""

from __future__ import annotations

import datetime as dt


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> dt.timedelta:
    """Exponential delay before retry number ``attempt`` (1-based): 1, 2, 4 ... ``cap`` seconds."""
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))

"""Retry delays."""

from __future__ import annotations

import datetime as dt


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> dt.timedelta:
    """Exponential delay before retry number ``attempt`` (1-based): 1, 2, 4 ... ``cap`` seconds."""
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def retry_time(
    attempts: int,
    max_attempts: int,
    now: dt.datetime,
    *,
    retry_after: float | None = None,
) -> dt.datetime | None:
    """When to try again after ``attempts`` failures; None when the limit is reached.

    ``retry_after`` (seconds) is the other side's own request to wait, honoured if longer.
    """
    if attempts >= max_attempts:
        return None
    wait = backoff(attempts)
    if retry_after is not None:
        wait = max(wait, dt.timedelta(seconds=retry_after))
    return now + wait

"""Retry delays."""

from __future__ import annotations

import datetime as dt


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> dt.timedelta:
    """Exponential delay before retry number ``attempt`` (1-based): 1, 2, 4 ... ``cap`` seconds."""
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def retry_time(
    attempts: int,
    now: dt.datetime,
    *,
    max_attempts: int | None = None,
    give_up_at: dt.datetime | None = None,
    retry_after: float | None = None,
) -> dt.datetime | None:
    """When to try again after ``attempts`` failures; None when it is time to give up.

    Gives up after ``max_attempts`` failures, or when the next try would come after
    ``give_up_at``. ``retry_after`` (seconds) is the other side's own request to wait,
    honoured if longer.
    """
    if max_attempts is not None and attempts >= max_attempts:
        return None
    wait = backoff(attempts)
    if retry_after is not None:
        wait = max(wait, dt.timedelta(seconds=retry_after))
    if give_up_at is not None and now + wait > give_up_at:
        return None
    return now + wait

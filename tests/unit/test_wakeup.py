"""Wakeup: one worker per notify, the baton passed on by workers that find work."""

from __future__ import annotations

import asyncio
import collections

from bot.workers.loop import Wakeup, run_forever

POLL = 60.0  # long: only notifications wake the workers in these tests


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_notify_wakes_one_of_the_waiting_workers():
    wakeup = Wakeup()
    waiters = [asyncio.create_task(wakeup.wait(POLL)) for _ in range(3)]
    await settle()
    wakeup.notify()
    await settle()
    assert sum(w.done() for w in waiters) == 1
    wakeup.notify()
    wakeup.notify()
    await settle()
    assert all(w.done() for w in waiters)


async def test_a_notify_with_nobody_waiting_is_kept_for_the_next_wait_only():
    wakeup = Wakeup()
    wakeup.notify()
    wakeup.notify()
    async with asyncio.timeout(1):
        await wakeup.wait(POLL)
    second = asyncio.create_task(wakeup.wait(POLL))
    await settle()
    assert not second.done()
    second.cancel()


async def test_wait_returns_after_the_poll_interval_without_a_notify():
    wakeup = Wakeup()
    async with asyncio.timeout(1):
        await wakeup.wait(0.01)
    wakeup.notify()  # the timed-out waiter is gone: this one is kept
    async with asyncio.timeout(1):
        await wakeup.wait(POLL)


class Workers:
    """Workers on one queue: a step takes an item and, as the real workers do after a claim,
    passes the baton on; an empty step is what an idle worker's claim costs."""

    def __init__(self, wakeup: Wakeup, count: int) -> None:
        self.wakeup = wakeup
        self.queue: collections.deque[int] = collections.deque()
        self.taken: dict[int, list[int]] = {n: [] for n in range(count)}
        self.empty_steps = 0
        self.took = asyncio.Event()
        self.tasks = [
            asyncio.create_task(run_forever(f"w{n}", self._step(n), wakeup, POLL))
            for n in range(count)
        ]

    def _step(self, n: int):
        async def step() -> bool:
            if not self.queue:
                self.empty_steps += 1
                return False
            self.taken[n].append(self.queue.popleft())
            self.took.set()
            self.wakeup.notify()
            await asyncio.sleep(0.01)  # the work: Rasa, the Send API
            return True

        return step

    async def until_done(self, items: int) -> None:
        async with asyncio.timeout(5):
            while sum(len(t) for t in self.taken.values()) < items:
                self.took.clear()
                await self.took.wait()
        await settle()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_one_new_item_wakes_one_worker_and_the_baton_one_more():
    workers = Workers(Wakeup(), 4)
    await settle()
    workers.empty_steps = 0  # each started with one step
    workers.queue.append(1)
    workers.wakeup.notify()
    await workers.until_done(1)
    await asyncio.sleep(0.05)
    # Notify-all woke all four: three empty claims, and the worker's own next step.
    assert workers.empty_steps == 2
    await workers.stop()


async def test_a_backlog_from_one_notify_spreads_over_several_workers():
    workers = Workers(Wakeup(), 4)
    await settle()
    workers.queue.extend(range(40))
    workers.wakeup.notify()
    await workers.until_done(40)
    busy = [n for n, taken in workers.taken.items() if taken]
    assert len(busy) == 4
    assert sorted(i for taken in workers.taken.values() for i in taken) == list(range(40))
    await workers.stop()

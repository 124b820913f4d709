"""A quota waiter that is cancelled (the triggerer cancels a trigger's task when its task instance is
marked failed/success or cleared, or when triggers move or stop) gives its token back: it takes
none, the waiters behind it move up into its place, and no token is created.

The buckets run on virtual time: their clock and the ``asyncio.sleep`` they wait with are one
simulated clock, so every wait is measured exactly, whatever the load of the machine.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools

import pytest

from airflow_restjob.transport import quota
from airflow_restjob.transport.quota import TokenBucket

_real_sleep = asyncio.sleep


class VirtualTime:
    """A clock for the buckets and the ``asyncio.sleep`` they use; moved on only by the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(delay, 0.0), next(self._order), wake))
        await wake

    async def settle(self) -> None:
        """Let every task run until all of them wait (for the virtual clock or the test)."""
        for _ in range(50):
            await _real_sleep(0)

    async def advance(self, until: float) -> None:
        """Move the clock to ``until``, waking the sleepers due on the way, in order."""
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            when, _, wake = heapq.heappop(self._sleepers)
            if wake.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, when)
            wake.set_result(None)
            await self.settle()
        self.now = max(self.now, until)
        await self.settle()

    async def run_until_done(self, tasks: list[asyncio.Task[None]], limit: float = 1e6) -> None:
        await self.settle()
        while not all(task.done() for task in tasks):
            pending = [when for when, _, wake in self._sleepers if not wake.done()]
            assert pending and min(pending) <= limit, "the waiters wait for nothing (or for too long)"
            await self.advance(min(pending))


@pytest.fixture()
def vt(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    virtual = VirtualTime()
    monkeypatch.setattr(quota.asyncio, "sleep", virtual.sleep)
    return virtual


def bucket_on(vt: VirtualTime, burst: float, per_second: float) -> TokenBucket:
    return TokenBucket(burst, per_second, clock=vt.clock)


async def drain(bucket: TokenBucket) -> None:
    while bucket.available() >= 1:
        await bucket.acquire()


def waiters(
    bucket: TokenBucket, n: int, granted: dict[int, float], vt: VirtualTime
) -> list[asyncio.Task[None]]:
    """``n`` callers of ``acquire()``; ``granted`` gets each one's (virtual) time of its token."""

    async def one(i: int) -> None:
        await bucket.acquire()
        granted[i] = vt.now

    return [asyncio.create_task(one(i)) for i in range(n)]


async def line_up(
    vt: VirtualTime, burst: float, per_second: float, n: int
) -> tuple[TokenBucket, list[asyncio.Task[None]], dict[int, float]]:
    """A bucket whose tokens were spent on calls, and ``n`` callers waiting in line for more."""
    bucket = bucket_on(vt, burst, per_second)
    await drain(bucket)
    granted: dict[int, float] = {}
    tasks = waiters(bucket, n, granted, vt)
    await vt.settle()
    return bucket, tasks, granted


async def cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results


async def wait_of_next_acquire(bucket: TokenBucket, vt: VirtualTime) -> float:
    start = vt.now
    task = asyncio.create_task(bucket.acquire())
    await vt.run_until_done([task])
    return vt.now - start


# --- 1,000 waiters cancelled ---------------------------------------------------------------------


async def test_thousand_cancelled_waiters_leave_what_refill_alone_gives(vt):
    bucket, tasks, granted = await line_up(vt, burst=5, per_second=10, n=1000)  # 5 calls made
    await vt.advance(0.05)
    assert not granted  # all of them wait
    await cancel(tasks)  # e.g. 1,000 deferred tasks cleared at once

    assert bucket.available() == pytest.approx(0.5)  # the refill since the drain, nothing owed
    await vt.advance(0.35)
    assert bucket.available() == pytest.approx(3.5)
    await vt.advance(10)
    assert bucket.available() == 5  # back to the burst, not beyond
    assert not granted


async def test_after_cancelled_waiters_the_next_acquire_waits_as_on_a_fresh_bucket(vt):
    bucket, tasks, _ = await line_up(vt, burst=5, per_second=10, n=1000)
    await cancel(tasks)
    wait = await wait_of_next_acquire(bucket, vt)

    fresh = bucket_on(vt, burst=5, per_second=10)
    await drain(fresh)  # the same calls, no cancelled waiters
    assert wait == pytest.approx(await wait_of_next_acquire(fresh, vt)) == pytest.approx(0.1)

    await vt.advance(vt.now + 1)  # refilled: no wait at all, as on an unused bucket
    assert await wait_of_next_acquire(bucket, vt) == 0 == await wait_of_next_acquire(fresh, vt)


# --- a cancelled waiter among active ones ------------------------------------------------------------


async def test_waiters_behind_a_cancelled_one_move_up_in_order(vt):
    bucket, tasks, granted = await line_up(vt, burst=1, per_second=10, n=6)
    await cancel([tasks[1], tasks[3]])  # two in the middle of the line
    await vt.advance(0.05)
    await cancel([tasks[0]])  # the head, half-way through its wait
    newcomer = asyncio.create_task(bucket.acquire())  # joins after the cancellations
    await vt.run_until_done([*tasks[4:], tasks[2], newcomer])

    # FIFO, one token per 0.1 s from the drain on: the first token goes to the first live waiter
    assert granted == pytest.approx({2: 0.1, 4: 0.2, 5: 0.3})
    assert vt.now == pytest.approx(0.4)  # the newcomer had the next one
    assert bucket.available() == pytest.approx(0)  # every token refilled went to a call


async def test_cancelled_waiters_do_not_delay_the_ones_still_waiting(vt):
    bucket, tasks, granted = await line_up(vt, burst=2, per_second=10, n=20)
    await cancel(tasks[:-1:2])  # every other one, from the head on
    newcomers: dict[int, float] = {}
    later = waiters(bucket, 10, newcomers, vt)  # join after the cancellations
    await vt.run_until_done(tasks[1::2] + later)

    order = sorted(granted, key=granted.__getitem__)
    assert order == sorted(granted)  # served in the order they came
    times = [granted[i] for i in order]
    assert times == pytest.approx([0.1 * k for k in range(1, 11)])  # as if the others never came
    # the newcomers after them, one token at a time: none shares a slot with an earlier waiter
    # (a give-back that only shortened the queue's tail would let them: 2 calls per slot, over budget)
    later_times = sorted(newcomers.values())
    assert later_times == pytest.approx([0.1 * k for k in range(11, 21)])
    gaps = [b - a for a, b in itertools.pairwise(times + later_times)]
    assert min(gaps) == pytest.approx(0.1)


async def test_a_head_cancelled_just_as_it_is_handed_the_line_passes_it_on(vt):
    bucket = bucket_on(vt, burst=1, per_second=10)
    await drain(bucket)
    granted: dict[int, float] = {}
    behind: list[asyncio.Task[None]] = []

    async def first() -> None:
        await bucket.acquire()
        behind[0].cancel()  # it was just made the head and has not run yet

    head = asyncio.create_task(first())
    behind.extend(waiters(bucket, 2, granted, vt))
    await vt.run_until_done([head, behind[1]])

    assert behind[0].cancelled()
    assert granted == pytest.approx({1: 0.2})  # the next token after the first one's, not later
    assert bucket.available() == pytest.approx(0)


# --- no token created --------------------------------------------------------------------------------


async def test_a_waiter_cancelled_after_it_got_its_token_does_not_return_it(vt):
    bucket = bucket_on(vt, burst=2, per_second=10)
    sending = asyncio.get_running_loop().create_future()

    async def poll() -> None:
        await bucket.acquire()
        await sending  # the request is on its way: the token was spent on it

    at_once = asyncio.create_task(poll())  # a token from the bucket
    await vt.settle()
    assert bucket.available() == pytest.approx(1)
    await drain(bucket)
    from_the_line = asyncio.create_task(poll())  # a token after waiting in line
    await vt.advance(0.1)
    assert bucket.available() == pytest.approx(0)
    await cancel([at_once, from_the_line])

    assert bucket.available() == pytest.approx(0)
    assert await wait_of_next_acquire(bucket, vt) == pytest.approx(0.1)


async def test_cancelled_waiters_never_lift_the_bucket_above_its_burst(vt):
    bucket, tasks, _ = await line_up(vt, burst=3, per_second=10, n=50)
    await vt.advance(5)  # the line is being served meanwhile
    await cancel([t for t in tasks if not t.done()])
    await vt.advance(100)
    assert bucket.available() == 3
    assert [await wait_of_next_acquire(bucket, vt) for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


# --- throttling feedback -------------------------------------------------------------------------------


async def test_a_throttled_answer_still_empties_the_bucket(vt):
    bucket = bucket_on(vt, burst=100, per_second=10)
    await bucket.acquire()
    bucket.throttled()  # the 99 left are spent: the next caller waits for the refill
    granted: dict[int, float] = {}
    tasks = waiters(bucket, 3, granted, vt)
    await vt.settle()
    await cancel([tasks[0]])
    await vt.advance(0.15)
    bucket.throttled()  # waiters in line keep their places (no extra penalty), as before
    await vt.run_until_done(tasks[1:])
    assert granted == pytest.approx({1: 0.1, 2: 0.2})  # the cancelled one's token went to the next

    await vt.advance(1.2)  # 10 tokens refilled
    bucket.throttled()
    assert bucket.throttle_count == 3
    assert await wait_of_next_acquire(bucket, vt) == pytest.approx(0.1)


# --- a loop closed with waiters in line ------------------------------------------------------------


def test_waiters_left_behind_by_a_closed_loop_do_not_block_the_bucket():
    bucket = TokenBucket(burst=1, per_second=1)  # slow: a loaded machine cannot refill it before the check
    loop = asyncio.new_event_loop()

    async def leave_waiters() -> None:
        await bucket.acquire()
        for _ in range(2):
            asyncio.ensure_future(bucket.acquire())
        await _real_sleep(0.005)

    loop.run_until_complete(leave_waiters())
    loop.close()  # without cancelling them (asyncio.run would have)

    async def later() -> None:
        await asyncio.wait_for(bucket.acquire(), 5)
        await asyncio.wait_for(bucket.acquire(), 5)

    asyncio.run(later())
    gc.collect()  # the abandoned waiters are closed now: they change nothing any more
    assert bucket.available() < 1
    asyncio.run(asyncio.wait_for(bucket.acquire(), 5))

"""A stage's token: at most `concurrent` calls at once, and starts spaced by `staggered` seconds.

The reference (damocles-worker `sealing/resource.rs`) gives each stage a bounded semaphore and a staggered
limiter: a start is let through when the interval has passed since the previous start, or as soon as a call of
the stage finishes (a finished task frees the stagger). This is the same rule on the event loop, with two
differences: the interval is measured from the previous start itself (the reference's timer ticks on its own, so
two starts could come closer than the interval), and waiters are served in arrival order, so the queue length
the metrics show is the real one.

Time is injected: `monotonic` reads the clock and `schedule(delay, callback)` arms the wake-up when only the
stagger holds a waiter back, so tests drive the limiter without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Schedule = Callable[[float, Callable[[], None]], asyncio.TimerHandle | None]


@dataclass(frozen=True)
class LimitStatus:
    """What /metrics shows of one stage: calls holding its token, calls waiting for it, and its limits."""

    busy: int
    queued: int
    concurrent: int | None
    staggered: float | None


class StageLimit:
    def __init__(
        self,
        concurrent: int | None = None,
        staggered: float | None = None,
        *,
        monotonic: Callable[[], float],
        schedule: Schedule | None = None,
    ) -> None:
        self.concurrent = concurrent
        self.staggered = staggered
        self._monotonic = monotonic
        self._schedule = schedule
        self._busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_start: float | None = None
        self._finished_since_start = True
        self._timer: asyncio.TimerHandle | None = None

    def status(self) -> LimitStatus:
        return LimitStatus(self._busy, len(self._waiters), self.concurrent, self.staggered)

    def can_start_now(self) -> bool:
        """Whether `acquire` would return at once (no one waits and both limits allow a start)."""
        return not self._waiters and self._allows_start()

    def blocker(self) -> str:
        """Why a call waits, for the thread's `waiting_for`: "pc1 slot (2/2 busy)" style, without the stage."""
        if self.concurrent is not None and self._busy >= self.concurrent:
            return f"slot ({self._busy}/{self.concurrent} busy)"
        if self._waiters and self._allows_start():
            return f"slot ({len(self._waiters)} ahead)"
        return "staggered start"

    async def acquire(self) -> None:
        """Wait for the token; cancelling the wait gives up the place in the queue (or the token, if granted)."""
        if self.can_start_now():
            self._start()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._arm_timer()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as the caller was cancelled: hand it on
            else:
                self._remove(waiter)
            raise

    def release(self) -> None:
        """A call of the stage finished: its slot is free, and so is the stagger."""
        if self._busy <= 0:
            raise RuntimeError("stage token released more often than acquired")
        self._busy -= 1
        self._finished_since_start = True
        self._dispatch()

    def _allows_start(self) -> bool:
        if self.concurrent is not None and self._busy >= self.concurrent:
            return False
        return self._stagger_left() <= 0

    def _stagger_left(self) -> float:
        if self.staggered is None or self._last_start is None or self._finished_since_start:
            return 0.0
        return self._last_start + self.staggered - self._monotonic()

    def _start(self) -> None:
        self._busy += 1
        self._last_start = self._monotonic()
        self._finished_since_start = False

    def _remove(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant the token to waiters, first come first served, for as long as the limits allow."""
        while self._waiters and self._allows_start():
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._start()
            waiter.set_result(None)
        self._arm_timer()

    def _arm_timer(self) -> None:
        """When only the stagger holds the first waiter back, wake up when it expires."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._waiters or (self.concurrent is not None and self._busy >= self.concurrent):
            return
        delay = self._stagger_left()
        if delay > 0:
            schedule = self._schedule or asyncio.get_running_loop().call_later
            self._timer = schedule(delay, self._dispatch)

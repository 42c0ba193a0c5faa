"""A stage's token: `limitation.concurrent` bounds the calls at once, `limitation.staggered` spaces their starts,
a finished call frees the stagger (as in the reference), and waiters are served in arrival order.

Time is a fake clock with a fake timer, so every rule is checked exactly and nothing sleeps."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.config import ProcessorsConfig
from sealer_fsm.processors import Processors, StageLimit


@dataclass
class FakeTimers:
    """A clock that moves when told, and the timers StageLimit arms on it."""

    now: float = 0.0
    pending: list[tuple[float, Callable[[], None], list[bool]]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def schedule(self, delay: float, callback: Callable[[], None]) -> _Handle:
        cancelled = [False]
        self.pending.append((self.now + delay, callback, cancelled))
        return _Handle(cancelled)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [entry for entry in self.pending if entry[0] <= self.now and not entry[2][0]]
        self.pending = [entry for entry in self.pending if entry not in due]
        for _, callback, _ in due:
            callback()


@dataclass
class _Handle:
    cancelled: list[bool]

    def cancel(self) -> None:
        self.cancelled[0] = True


def on_event_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


class Stage:
    """A StageLimit on fake time, with calls the test starts and finishes by name; every start and end is
    recorded as (name, time, order)."""

    def __init__(self, concurrent: int | None, staggered: float | None) -> None:
        self.timers = FakeTimers()
        self.limit = StageLimit(
            concurrent,
            staggered,
            monotonic=self.timers.monotonic,
            schedule=self.timers.schedule,  # type: ignore[arg-type]
        )
        self.calls: dict[int, asyncio.Task[None]] = {}
        self.starts: list[tuple[int, float, int]] = []
        self.ends: list[tuple[int, float, int]] = []
        self.running: set[int] = set()
        self._order = itertools.count()

    def request(self, name: int) -> None:
        async def call() -> None:
            await self.limit.acquire()
            self.starts.append((name, self.timers.now, next(self._order)))
            self.running.add(name)

        self.calls[name] = asyncio.ensure_future(call())

    def finish(self, name: int) -> None:
        self.running.discard(name)
        self.ends.append((name, self.timers.now, next(self._order)))
        self.limit.release()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@on_event_loop
async def test_at_most_concurrent_calls_and_the_rest_wait_in_order() -> None:
    stage = Stage(concurrent=2, staggered=None)
    for name in range(5):
        stage.request(name)
    await settle()
    assert stage.running == {0, 1}
    assert stage.limit.status().busy == 2 and stage.limit.status().queued == 3
    assert stage.limit.blocker() == "slot (2/2 busy)"
    stage.finish(1)
    await settle()
    assert stage.running == {0, 2}
    stage.finish(0)
    stage.finish(2)
    await settle()
    assert [name for name, _, _ in stage.starts] == [0, 1, 2, 3, 4]


@on_event_loop
async def test_starts_are_spaced_by_the_interval_unless_a_call_finishes() -> None:
    stage = Stage(concurrent=None, staggered=30.0)
    for name in range(3):
        stage.request(name)
    await settle()
    assert [start[:2] for start in stage.starts] == [(0, 0.0)]
    assert stage.limit.blocker() == "staggered start"
    stage.timers.advance(29.0)
    await settle()
    assert len(stage.starts) == 1
    stage.timers.advance(1.0)
    await settle()
    assert stage.starts[-1][:2] == (1, 30.0)
    stage.timers.advance(5.0)
    stage.finish(0)  # a finished call frees the stagger: the next one starts now, 5 s after the previous start
    await settle()
    assert stage.starts[-1][:2] == (2, 35.0)


@on_event_loop
async def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_moves_up() -> None:
    stage = Stage(concurrent=1, staggered=None)
    for name in range(3):
        stage.request(name)
    await settle()
    stage.calls[1].cancel()
    await settle()
    assert stage.limit.status().queued == 1
    stage.finish(0)
    await settle()
    assert stage.running == {2}


@on_event_loop
async def test_a_waiter_cancelled_just_as_it_was_granted_hands_the_token_on() -> None:
    stage = Stage(concurrent=1, staggered=None)
    stage.request(0)
    stage.request(1)
    stage.request(2)
    await settle()
    stage.finish(0)  # grants call 1 ...
    stage.calls[1].cancel()  # ... which is cancelled before it resumes
    await settle()
    assert stage.running == {2}
    assert stage.limit.status().busy == 1


def test_releasing_more_than_acquired_is_a_bug_not_a_silent_slot() -> None:
    stage = Stage(concurrent=1, staggered=None)
    with pytest.raises(RuntimeError, match="released more often"):
        stage.limit.release()


# One operation per step: a new call arrives, the oldest running call finishes, or time moves on.
operations = st.lists(st.one_of(st.just("request"), st.just("finish"), st.floats(0.0, 20.0)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    concurrent=st.one_of(st.none(), st.integers(1, 3)),
    staggered=st.one_of(st.none(), st.sampled_from([1.0, 7.5, 30.0])),
    steps=operations,
)
def test_every_schedule_keeps_the_limits_and_never_leaves_a_startable_call_waiting(concurrent, staggered, steps):
    async def scenario() -> None:
        stage = Stage(concurrent, staggered)
        names = iter(range(1000))
        for step in steps:
            if step == "request":
                stage.request(next(names))
            elif step == "finish":
                if stage.running:
                    stage.finish(min(stage.running))
            else:
                stage.timers.advance(step)
            await settle()
            if concurrent is not None:
                assert len(stage.running) <= concurrent
            # no call waits while both limits would let it start
            assert not (stage.limit.status().queued and _startable(stage))
        _check_stagger(stage, staggered)
        for call in stage.calls.values():
            call.cancel()
        await settle()

    asyncio.run(scenario())


def _startable(stage: Stage) -> bool:
    limit = stage.limit
    if limit.concurrent is not None and len(stage.running) >= limit.concurrent:
        return False
    if limit.staggered is None or not stage.starts:
        return True
    _, last_start, order = stage.starts[-1]
    finished_since = any(end_order > order for _, _, end_order in stage.ends)
    return finished_since or stage.timers.now - last_start >= limit.staggered


def _check_stagger(stage: Stage, staggered: float | None) -> None:
    """Between two consecutive starts: the interval passed, or a call finished."""
    if staggered is None:
        return
    for (_, previous, previous_order), (_, start, order) in itertools.pairwise(stage.starts):
        finished_between = any(previous_order < end_order < order for _, _, end_order in stage.ends)
        assert finished_between or start - previous >= staggered


@on_event_loop
async def test_a_step_doing_a_stages_work_itself_holds_the_stages_slot() -> None:
    processors = Processors(ProcessorsConfig(concurrent={"pc1": 1}))
    reports: list[tuple[str | None, str | None]] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def first() -> None:
        async with processors.slot("pc1"):
            inside.set()
            await leave.wait()

    holder = asyncio.ensure_future(first())
    await inside.wait()
    second = asyncio.ensure_future(_enter(processors, lambda *report: reports.append(report)))
    await settle()
    assert reports == [("pc1 slot (1/1 busy)", None)] and not second.done()
    leave.set()
    await asyncio.gather(holder, second)
    assert reports == [("pc1 slot (1/1 busy)", None), (None, "builtin"), (None, None)]


async def _enter(processors: Processors, report: Callable[..., None]) -> None:
    async with processors.slot("pc1", report):
        pass

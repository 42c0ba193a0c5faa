"""Choosing a child for a call, as the reference does: the most free capacity among the children whose own
`concurrent` and every lock can be taken at once; locks all together or not at all; waiting for whichever frees."""

from __future__ import annotations

import asyncio

import pytest

from sealer_fsm.config import ExternalProcessor
from sealer_fsm.processors import ChildState, StageFailed
from sealer_fsm.processors._child import ProcessorChild
from sealer_fsm.processors._pool import Changes, ExtLocks, StagePool


def child(stage: str, index: int, *, concurrent: int | None = None, locks: tuple[str, ...] = ()) -> ProcessorChild:
    spec = ExternalProcessor(stage=stage, index=index, concurrent=concurrent, locks=locks)
    ready = ProcessorChild(spec, ["unused"], {})
    ready.state = ChildState.READY
    return ready


def test_the_child_with_the_most_free_capacity_is_taken() -> None:
    async def story() -> None:
        small, large = child("pc1", 0, concurrent=2), child("pc1", 1, concurrent=6)
        pool = StagePool("pc1", [small, large], ExtLocks({}), Changes())
        taken = [await pool.acquire(lambda blocker: None) for _ in range(6)]
        # free capacity: large 6-0, 6-1, 6-2, 6-3 then small 2-0 = large 6-4 ... ties go to the first entry
        assert [chosen.spec.index for chosen in taken] == [1, 1, 1, 1, 0, 1]
        assert (small.load, large.load) == (1, 5)
        unlimited = child("pc1", 2)
        assert unlimited.free_capacity() == 64 and unlimited.can_take()

    asyncio.run(story())


def test_a_childs_locks_are_taken_all_together_or_not_at_all_and_a_waiter_says_which_it_waits_for() -> None:
    async def story() -> None:
        locks, changes = ExtLocks({"gpu": 1, "disk": 1}), Changes()
        pc2 = StagePool("pc2", [child("pc2", 0, locks=("gpu",))], locks, changes)
        c2 = StagePool("c2", [child("c2", 0, locks=("gpu", "disk"))], locks, changes)
        transfer = StagePool("transfer", [child("transfer", 0, locks=("disk",))], locks, changes)
        holder = await pc2.acquire(lambda blocker: None)
        waits: list[str] = []
        waiting = asyncio.ensure_future(c2.acquire(waits.append))
        await asyncio.sleep(0)
        assert waits == ["lock gpu"] and not waiting.done()
        assert [lock.held for lock in locks.status()] == [0, 1]  # disk is not held by the waiting c2 call
        mover = await transfer.acquire(lambda blocker: None)  # so another stage can take disk meanwhile
        transfer.release(mover)
        pc2.release(holder)
        taken = await waiting
        assert taken.spec.stage == "c2" and [lock.held for lock in locks.status()] == [1, 1]

    asyncio.run(story())


def test_a_full_child_makes_calls_wait_and_a_stage_with_no_live_child_fails_as_temporary() -> None:
    async def story() -> None:
        only = child("pc1", 0, concurrent=1)
        pool = StagePool("pc1", [only], ExtLocks({}), Changes())
        first = await pool.acquire(lambda blocker: None)
        waits: list[str] = []
        second = asyncio.ensure_future(pool.acquire(waits.append))
        await asyncio.sleep(0)
        assert waits == ["pc1 processor (all 1 busy)"]
        pool.release(first)
        assert await second is only
        only.state, only.last_error = ChildState.FAILED, "processor pc1 #0 (x): unexpected first line 'hi'"
        pool.release(only)
        with pytest.raises(StageFailed) as failure:
            await pool.acquire(lambda blocker: None)
        assert failure.value.level == "temporary"
        assert failure.value.message == "no pc1 processor is running: processor pc1 #0 (x): unexpected first line 'hi'"

    asyncio.run(story())

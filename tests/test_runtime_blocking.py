"""Blocking work a step runs in a worker thread (`ctx.run_blocking`, or a plain-function step) is either stopped
for real by its cancel token or awaited: a task's next step never starts while the previous copy still runs."""

from __future__ import annotations

import asyncio
import threading

from sealer_fsm.runtime import Outcome, ThreadState
from tests.harness import build_worker, registry_for, stop_here, until


class Body:
    """Blocking work that records how many copies run at once; the first copy ignores cancellation until the
    test releases it (a library call that cannot be interrupted), later copies finish at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.entered = 0
        self.finished = 0
        self.release_first = threading.Event()

    def __call__(self, cancel=None) -> str:
        with self.lock:
            self.running += 1
            self.entered += 1
            self.most_at_once = max(self.most_at_once, self.running)
            first = self.entered == 1
        try:
            if first:
                self.release_first.wait(timeout=60)
            return "done"
        finally:
            with self.lock:
                self.running -= 1
                self.finished += 1


def step_running(body: Body):
    async def step(ctx):
        if ctx.state == "Empty":
            return Outcome("Allocate", {"sector_id": "s-t01000-1"})
        if ctx.state == "Allocated":
            await ctx.run_blocking(body, cancel=ctx.cancel_token)
            return "AcquireDeals"
        return await stop_here(ctx)

    return step


def test_a_resume_waits_for_the_cancelled_blocking_body_and_never_overlaps_it(tmp_path, machine_file):
    body = Body()
    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(step_running(body)))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: body.entered == 1)
        assert worker.pause(0, now=True) is True
        await until(lambda: worker.thread(0).paused)
        assert worker.thread(0).state == "Allocated"
        worker.resume(0)
        await until(lambda: worker.thread(0).thread_state is ThreadState.WAITING)
        for _ in range(50):
            await asyncio.sleep(0)
        assert (body.entered, body.running) == (1, 1)  # the rerun waits for the first copy to end
        body.release_first.set()
        await until(lambda: worker.thread(0).state == "DealsAcquired")
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert (body.entered, body.finished, body.most_at_once) == (2, 2, 1)


def test_a_plain_function_step_is_awaited_the_same_way(tmp_path, machine_file):
    body = Body()

    def blocking_step(ctx):  # a plain function: the runtime runs it in a worker thread
        body()
        return "AcquireDeals"

    worker = build_worker(
        machine_file(["sealer"]),
        tmp_path / "h",
        registry_for(step_running(body), acquire_deals=blocking_step),
    )

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: body.entered == 1)
        worker.pause(0, now=True)
        await until(lambda: worker.thread(0).paused)
        worker.resume(0)
        await until(lambda: worker.thread(0).thread_state is ThreadState.WAITING)
        assert body.entered == 1
        body.release_first.set()
        await until(lambda: worker.thread(0).state == "DealsAcquired")
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert body.most_at_once == 1


def test_a_body_that_honours_the_cancel_token_stops_and_the_step_reruns(tmp_path, machine_file):
    runs = []

    def spin(cancel=None):
        runs.append("started")
        while not cancel.cancelled:  # the C loops poll the same flag between chunks
            threading.Event().wait(0.001)
        runs.append("stopped")

    calls = []

    async def step(ctx):
        if ctx.state == "Empty":
            return Outcome("Allocate", {"sector_id": "s-t01000-1"})
        if ctx.state == "Allocated":
            calls.append(1)
            if len(calls) == 1:
                await ctx.run_blocking(spin, cancel=ctx.cancel_token)
            return "AcquireDeals"
        return await stop_here(ctx)

    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(step))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: runs)
        worker.pause(0, now=True)
        await until(lambda: worker.thread(0).paused)
        worker.resume(0)
        await until(lambda: worker.thread(0).state == "DealsAcquired")
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert runs == ["started", "stopped"] and len(calls) == 2

"""Who paused a thread, when and why, and what the log says about every pause, resume, abort and retry."""

from __future__ import annotations

import asyncio
import datetime
import logging
import re

from sealer_fsm.control._methods import WorkerMethods
from sealer_fsm.runtime import Outcome, Temporary, ThreadState
from tests.harness import build_worker, producing, registry_for, run_until, stop_here, until


class Clock:
    """A wall clock the test sets; monotonic time follows it."""

    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


def forward(**per_state):
    async def step(ctx):
        action = per_state.get(ctx.state)
        if action is not None:
            return await action(ctx)
        spec = ctx.plan.state(ctx.state)
        if not spec.on:
            return None
        return Outcome(list(spec.on)[-1], {"sector_id": ctx.data.get("sector_id", "s-t01000-1")})

    return step


def runner_for(worker):
    return asyncio.create_task(worker.run())


def test_an_operator_pause_records_who_when_and_why_and_survives_a_restart(tmp_path, machine_file, caplog):
    caplog.set_level(logging.INFO, "sealer_fsm")
    started = []

    async def slow(ctx):
        started.append(ctx.state)
        await ctx.sleep(3600)
        return "AcquireDeals"

    clock = Clock()
    path = machine_file(["sealer"])
    worker = build_worker(path, tmp_path / "h", registry_for(forward(Allocated=slow)), clock=clock)

    async def scenario():
        runner = runner_for(worker)
        await until(lambda: started)
        clock.at += 10
        assert worker.pause(0, actor="alice", reason="disk swap") is True
        await until(lambda: worker.thread(0).paused)
        worker.drain()
        await runner

    asyncio.run(scenario())
    info = worker.thread(0)
    assert (info.paused_by, info.paused_at, info.pause_reason) == ("alice", clock.at, "disk swap")
    assert info.to_worker_info()["paused_by"] == "alice"
    assert info.to_worker_info()["pause_reason"] == "disk swap"
    worker.close()

    restarted = build_worker(path, tmp_path / "h", registry_for(forward(Allocated=stop_here)), clock=clock)

    async def after_restart():
        runner = runner_for(restarted)
        await until(lambda: restarted.thread(0).thread_state is ThreadState.PAUSED)
        again = restarted.thread(0)
        assert (again.paused_by, again.paused_at, again.pause_reason) == ("alice", clock.at, "disk swap")
        restarted.resume(0, reason="swapped")
        await until(lambda: restarted.thread(0).paused_by == "worker")  # stop_here paused it again
        restarted.drain()
        await runner

    asyncio.run(after_restart())
    info = restarted.thread(0)
    assert (info.paused_by, info.pause_reason) == ("worker", "permanent: test stops in Allocated")
    messages = [record.getMessage() for record in caplog.records]
    assert "thread 0: pause requested by alice (now=False, reason='disk swap')" in messages
    assert "thread 0: s-t01000-1 paused by alice in Allocated (reason='disk swap')" in messages
    resumed = "thread 0: s-t01000-1 resumed by operator: Allocated -> Allocated (force=False, reason='swapped')"
    assert resumed in messages


def test_a_pause_between_tasks_is_recorded_on_the_next_task(tmp_path, machine_file):
    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(forward()))

    async def scenario():
        worker.pause(0, reason="before anything runs")
        runner = runner_for(worker)
        await until(lambda: worker.thread(0).paused)
        worker.drain()
        await runner

    asyncio.run(scenario())
    info = worker.thread(0)
    assert (info.state, info.paused_by, info.pause_reason) == ("Empty", "operator", "before anything runs")


def test_the_control_rpc_pause_takes_a_reason(tmp_path, machine_file):
    started = []

    async def slow(ctx):
        started.append(1)
        await ctx.sleep(3600)

    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(forward(Allocated=slow)))
    methods = WorkerMethods(worker)

    async def scenario():
        runner = runner_for(worker)
        await until(lambda: started)
        assert methods.pause(0, False, "chain reorg") is True
        await until(lambda: worker.thread(0).paused)
        (listed,) = methods.worker_list()
        assert (listed["paused_by"], listed["pause_reason"]) == ("operator", "chain reorg")
        worker.drain()
        await runner

    asyncio.run(scenario())


def test_every_temporary_failure_is_logged_with_its_attempt_and_next_try(tmp_path, machine_file, caplog):
    caplog.set_level(logging.WARNING, "sealer_fsm")
    clock = Clock(1_800_000_000.0)

    async def flaky(ctx):
        raise Temporary("manager unreachable")

    worker = build_worker(
        machine_file(["sealer"], sealing="max_retries = 2"),
        tmp_path / "h",
        registry_for(forward(Allocated=flaky)),
        clock=clock,
    )
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    retries = [record for record in caplog.records if "retry" in record.getMessage()]
    assert [record.levelno for record in retries] == [logging.WARNING] * 2
    pattern = r"thread 0: s-t01000-1 in Allocated: temporary: manager unreachable; retry (\d) of 2 at (.+) \(in 0 s\)"
    found = [re.fullmatch(pattern, record.getMessage()) for record in retries]
    assert [match.group(1) for match in found] == ["1", "2"]
    assert found[0].group(2) == datetime.datetime.fromtimestamp(clock.at).strftime("%Y-%m-%d %H:%M:%S")


def test_resumes_and_aborts_are_logged_with_target_force_and_reason(tmp_path, machine_file, caplog):
    caplog.set_level(logging.INFO, "sealer_fsm")
    cleaned = []

    async def clean(ctx):
        cleaned.append(ctx.sector)

    worker = build_worker(
        machine_file(["sealer"]),
        tmp_path / "h",
        registry_for(producing(TicketAssigned=True), abort_sector=clean),
    )

    async def scenario():
        runner = runner_for(worker)
        await until(lambda: worker.thread(0).paused)
        worker.resume(0, "TreeDBuilt", reason="ticket expired")  # a plain jump back: not forced
        await until(lambda: worker.thread(0).paused and len(worker.history(0)) > 8)
        worker.resume(0, "Aborted", force=True, reason="give up")
        await until(lambda: cleaned)
        worker.drain()
        await runner

    asyncio.run(scenario())
    messages = [record.getMessage() for record in caplog.records]
    assert (
        "thread 0: s-t01000-1 resumed by operator: TicketAssigned -> TreeDBuilt (force=False, reason='ticket expired')"
        in messages
    )
    aborted = "thread 0: s-t01000-1 aborted by operator: TicketAssigned -> Abort (force=True, reason='give up')"
    assert aborted in messages

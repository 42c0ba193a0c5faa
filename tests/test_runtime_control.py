"""Failure levels, retries, pause, resume, abort, restart and drain, as an operator would meet them."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace

import pytest

from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import IDLE, AbortTask, NotPaused, Outcome, StateRefused, Temporary, ThreadState
from sealer_fsm.steps import builtin_registry
from tests.conftest import PLANS
from tests.harness import build_worker, registry_for, run_until, stop_here, until


def walker(**per_state):
    """A step that runs `per_state[state]` when given, else takes the state's last (forward) event."""

    async def step(ctx):
        action = per_state.get(ctx.state)
        if action is not None:
            return await action(ctx)
        spec = ctx.plan.state(ctx.state)
        if not spec.on:
            return None
        return Outcome(list(spec.on)[-1], {"sector_id": ctx.data.get("sector_id", f"s-t01000-{ctx.thread_index}")})

    return step


def test_temporary_failures_retry_then_pause_as_permanent(tmp_path, machine_file):
    calls = []

    async def flaky(ctx):
        calls.append(ctx.state)
        raise Temporary("manager unreachable")

    worker = build_worker(
        machine_file(["sealer"], sealing="max_retries = 3"), tmp_path / "h", registry_for(walker(Allocated=flaky))
    )
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    info = worker.thread(0)
    assert len(calls) == 4  # the first run and three retries
    assert info.state == "Allocated"
    assert info.last_error == "permanent: manager unreachable (gave up after 3 retries)"
    failures = [entry.failure for entry in worker.history(0) if entry.failure]
    assert failures == ["temporary: manager unreachable"] * 3 + [info.last_error]


def test_retry_policy_can_be_overridden_per_state(tmp_path, machine_file):
    plan = tmp_path / "strict.yaml"
    text = (
        (PLANS / "sealer.yaml")
        .read_text()
        .replace("    step: acquire_deals\n", "    step: acquire_deals\n    retry: {max: 1}\n")
    )
    plan.write_text(text)
    calls = []

    async def flaky(ctx):
        calls.append(1)
        raise Temporary("busy")

    worker = build_worker(
        machine_file([str(plan)], sealing="max_retries = 9"), tmp_path / "h", registry_for(walker(Allocated=flaky))
    )
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    assert len(calls) == 2
    assert "gave up after 1 retries" in worker.thread(0).last_error


def test_abort_failure_cleans_up_and_the_thread_takes_the_next_task(tmp_path, machine_file):
    cleaned = []

    async def doomed(ctx):
        raise AbortTask("ticket is from another chain")

    async def clean(ctx):
        cleaned.append((ctx.sector, ctx.entered_by().failure))

    worker = build_worker(
        machine_file(["sealer"]),
        tmp_path / "h",
        registry_for(walker(Allocated=doomed, DealsAcquired=stop_here), abort_sector=clean),
    )
    asyncio.run(run_until(worker, lambda: len(cleaned) >= 2))
    tasks = worker.store.tasks()
    assert [task.state for task in tasks[:2]] == ["Abort", "Abort"]
    assert all(task.closed_at is not None for task in tasks[:2])
    entry = worker.store.history(tasks[0].id)[-1]
    assert (entry.from_state, entry.event, entry.to_state) == ("Allocated", "Abort", "Abort")
    assert entry.failure == "abort: ticket is from another chain"
    assert not worker.thread(0).paused
    assert cleaned[0] == ("s-t01000-0", "abort: ticket is from another chain")


def test_pause_takes_effect_at_the_next_checkpoint_and_resume_continues(tmp_path, machine_file):
    seen = []

    async def slow(ctx):
        seen.append("started")
        await ctx.sleep(3600)
        return "AcquireDeals"

    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(walker(Allocated=slow)))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await _until(lambda: seen)
        assert worker.pause(0) is True
        assert worker.pause(0) is False  # already pending
        await _until(lambda: worker.thread(0).paused)
        info = worker.thread(0)
        assert (info.state, info.last_error, info.thread_state) == ("Allocated", None, ThreadState.PAUSED)
        assert worker.pause(0) is False
        worker.resume(0)
        await _until(lambda: len(seen) == 2)
        assert not worker.thread(0).paused
        worker.drain()
        await runner

    asyncio.run(scenario())


def test_pause_now_cancels_a_step_that_never_checkpoints_and_resume_reruns_it(tmp_path, machine_file):
    runs = []

    async def stubborn(ctx):
        runs.append(ctx.state)
        if len(runs) == 1:
            await asyncio.Event().wait()  # no checkpoint: only cancellation stops it
        return "AcquireDeals"

    worker = build_worker(
        machine_file(["sealer"]), tmp_path / "h", registry_for(walker(Allocated=stubborn, DealsAcquired=stop_here))
    )

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await _until(lambda: runs)
        assert worker.thread(0).thread_state is ThreadState.RUNNING
        assert worker.pause(0, now=True) is True
        await _until(lambda: worker.thread(0).paused)
        assert worker.thread(0).state == "Allocated"
        worker.resume(0)
        await _until(lambda: worker.thread(0).paused and worker.thread(0).state == "DealsAcquired")
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert runs == ["Allocated", "Allocated"]


def test_resume_is_refused_unless_paused_and_for_states_outside_the_plan(tmp_path, machine_file):
    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(walker(TreeDBuilt=stop_here)))
    with pytest.raises(NotPaused):
        worker.resume(0)
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    before = (replace(worker.thread(0), elapsed=0, thread_state_elapsed=0), worker.history(0))
    with pytest.raises(StateRefused) as refused:
        worker.resume(0, "SnapEncoded")
    assert "valid states: Empty, Allocated" in str(refused.value)
    assert refused.value.valid_states[-1] == "Abort"
    with pytest.raises(StateRefused) as missing:
        worker.resume(0, "PC1Done")  # no ticket, no PC1 output yet
    assert "pc1_out" in str(missing.value) and "force" in str(missing.value)
    assert (replace(worker.thread(0), elapsed=0, thread_state_elapsed=0), worker.history(0)) == before


def test_resume_into_an_earlier_state_is_recorded_with_who_and_why(tmp_path, machine_file):
    visits = []

    async def record_then_stop(ctx):
        visits.append(ctx.state)
        return await stop_here(ctx)

    worker = build_worker(
        machine_file(["sealer"]), tmp_path / "h", registry_for(walker(TicketAssigned=record_then_stop))
    )

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await _until(lambda: worker.thread(0).paused)
        worker.resume(0, "TreeDBuilt", force=True, reason="ticket expired")
        await _until(lambda: len(visits) == 2 and worker.thread(0).paused)
        worker.drain()
        await runner

    asyncio.run(scenario())
    forced = [entry for entry in worker.history(0) if entry.event == "SetState"]
    assert len(forced) == 1
    assert (forced[0].from_state, forced[0].to_state) == ("TicketAssigned", "TreeDBuilt")
    assert (forced[0].actor, forced[0].reason) == ("operator", "ticket expired")


def test_resume_into_aborted_drops_the_sector_through_the_abort_step(tmp_path, machine_file):
    cleaned = []

    async def clean(ctx):
        cleaned.append(ctx.sector)

    worker = build_worker(
        machine_file(["snapup"]), tmp_path / "h", registry_for(walker(SnapEncoded=stop_here), abort_sector=clean)
    )

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await _until(lambda: worker.thread(0).paused)
        worker.pause(0)  # a second pause of a paused thread changes nothing
        worker.resume(0, "Aborted", reason="sector is dead")
        await _until(lambda: cleaned and worker.thread(0).paused)
        worker.drain()
        await runner

    asyncio.run(scenario())
    first = worker.store.tasks()[0]
    assert first.state == "Abort" and first.closed_at is not None
    entry = worker.store.history(first.id)[-1]
    assert (entry.event, entry.actor, entry.reason) == ("Abort", "operator", "sector is dead")
    assert cleaned == ["s-t01000-0"]


def test_paused_flag_and_last_error_survive_a_restart(tmp_path, machine_file):
    path = machine_file(["sealer", "snapup"])
    worker = build_worker(path, tmp_path / "h", registry_for(walker(PC1Done=stop_here, SnapProved=stop_here)))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused and worker.thread(1).paused))
    before = [(info.state, info.last_error, info.paused) for info in worker.threads()]
    history_before = [worker.history(index) for index in (0, 1)]
    worker.close()

    runs_after_restart = []

    async def counted(ctx):
        runs_after_restart.append(ctx.state)
        return await stop_here(ctx)

    restarted = build_worker(path, tmp_path / "h", registry_for(counted))

    async def scenario():
        runner = asyncio.create_task(restarted.run())
        # A thread that lost its paused flag would run its step (and pause again) before it reads Paused.
        await until(lambda: all(info.thread_state is ThreadState.PAUSED for info in restarted.threads()))
        for _ in range(20):
            await asyncio.sleep(0)
        assert [(info.state, info.last_error, info.paused) for info in restarted.threads()] == before
        restarted.drain()
        await runner

    asyncio.run(scenario())
    assert runs_after_restart == []
    assert [restarted.history(index) for index in (0, 1)] == history_before
    assert before[0] == ("PC1Done", "permanent: test stops in PC1Done", True)


def test_idle_steps_wait_and_ask_again(tmp_path, machine_file):
    asked = []

    async def nothing_yet(ctx):
        asked.append(1)
        return IDLE if len(asked) < 3 else Outcome("Allocate", {"sector_id": "s-t01000-9"})

    worker = build_worker(
        machine_file(["sealer"]), tmp_path / "h", registry_for(walker(Empty=nothing_yet, Allocated=stop_here))
    )
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    assert len(asked) == 3
    assert [entry.event for entry in worker.history(0) if entry.event] == ["Allocate"]


def test_drain_stops_steps_at_their_checkpoint_without_pausing(tmp_path, machine_file):
    async def long_wait(ctx):
        await ctx.sleep(3600)
        return "Allocate"

    worker = build_worker(machine_file(["sealer", "sealer"]), tmp_path / "h", registry_for(walker(Empty=long_wait)))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await _until(lambda: all(info.thread_state is ThreadState.RUNNING for info in worker.threads()))
        worker.drain()
        await asyncio.wait_for(runner, timeout=5)

    asyncio.run(scenario())
    assert [(info.state, info.paused) for info in worker.threads()] == [("Empty", False), ("Empty", False)]


def test_a_broken_plan_edit_never_takes_down_the_running_worker(tmp_path, machine_file):
    plan = tmp_path / "mine.yaml"
    shutil.copy(PLANS / "sealer.yaml", plan)
    finished = []

    async def report(ctx):
        finished.append(ctx.sector)
        if len(finished) == 1:
            plan.write_text(plan.read_text().replace("on: {Allocate: Allocated}", "on: {Allocate: Nowhere}"))

    worker = build_worker(machine_file([str(plan)]), tmp_path / "h", registry_for(walker(), report_finalized=report))
    asyncio.run(run_until(worker, lambda: len(finished) >= 3))
    assert "unknown state 'Nowhere'" in next(iter(worker.plan_warnings().values()))


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.002)


def test_an_operator_written_step_is_loaded_by_module_and_function(tmp_path, machine_file):
    plan = tmp_path / "custom.yaml"
    plan.write_text(
        (PLANS / "sealer.yaml").read_text().replace("    step: acquire_deals\n", "    step: tests.harness:stop_here\n")
    )
    worker = build_worker(machine_file([str(plan)]), tmp_path / "h", registry_for(walker()))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    assert worker.thread(0).last_error == "permanent: test stops in Allocated"


def test_an_abort_failure_while_cleaning_up_an_aborted_task_pauses_it(tmp_path, machine_file):
    async def doomed(ctx):
        raise AbortTask("dead sector")

    async def cleanup_fails(ctx):
        raise AbortTask("store unreachable")

    worker = build_worker(
        machine_file(["sealer"]), tmp_path / "h", registry_for(walker(Allocated=doomed), abort_sector=cleanup_fails)
    )
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    info = worker.thread(0)
    assert info.state == "Abort"
    assert info.last_error == "permanent: store unreachable (while cleaning up the aborted task)"


def test_a_simulated_step_is_marked_so_in_what_the_worker_reports(tmp_path, machine_file):
    @simulated_step
    async def fake_pc2(ctx):
        return await stop_here(ctx)

    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(walker(), pc2=fake_pc2))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    info = worker.thread(0)
    assert (info.state, info.simulated) == ("PC1Done", True)
    assert info.to_worker_info()["simulated"] is True
    assert builtin_registry().is_simulated("c2") and not builtin_registry().is_simulated("build_tree_d")

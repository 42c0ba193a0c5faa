"""Every transition of every shipped plan, driven through the whole runtime, table-driven from the YAML."""

from __future__ import annotations

import asyncio

import pytest

from sealer_fsm.plans import load_plan
from tests.conftest import PLANS
from tests.harness import SHIPPED_PLANS, build_worker, registry_for, run_until, stop_here

TRANSITIONS = [
    pytest.param(plan_name, source, event, target, id=f"{plan_name}:{source}-{event}->{target}")
    for plan_name in SHIPPED_PLANS
    for source, event, target in load_plan(PLANS / f"{plan_name}.yaml", None).transitions()
]


@pytest.mark.parametrize(("plan_name", "source", "event", "target"), TRANSITIONS)
def test_step_event_moves_the_task_as_the_plan_says(tmp_path, machine_file, plan_name, source, event, target):
    async def step(ctx):
        if ctx.state == source:
            return event
        return await stop_here(ctx)

    worker = build_worker(machine_file([plan_name]), tmp_path / "home", registry_for(step))
    plan = load_plan(PLANS / f"{plan_name}.yaml", None)
    task = worker.store.create_task(0, plan_name, str(plan.source), source, 0.0).wait()

    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))

    stored = worker.store.task(task.id)
    assert stored.state == target
    assert stored.prev_state == source
    first = worker.store.history(task.id)[0]
    assert (first.from_state, first.event, first.to_state, first.failure) == (source, event, target, None)


def test_an_event_the_plan_does_not_allow_pauses_the_thread_as_critical(tmp_path, machine_file):
    async def step(ctx):
        return "Finish" if ctx.state == "Empty" else await stop_here(ctx)

    worker = build_worker(machine_file(["sealer"]), tmp_path / "home", registry_for(step))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    info = worker.thread(0)
    assert info.state == "Empty"
    assert info.last_error.startswith("critical: event 'Finish' is not allowed in state 'Empty'")
    assert "allowed: Allocate" in info.last_error

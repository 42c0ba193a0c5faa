"""A small harness to run a real Worker in-process with scripted steps, for runtime tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealer_fsm.config import load_machine_file
from sealer_fsm.plans import load_plan
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime import Outcome, Permanent, Worker
from tests.conftest import PLANS

SHIPPED_PLANS = ("sealer", "snapup", "rebuild", "unseal")


def registry_for(default: Callable[..., Any], **overrides: Callable[..., Any]) -> StepRegistry:
    """A registry mapping every step name of the shipped plans to `default`, except the overridden ones."""
    names = set()
    for plan_name in SHIPPED_PLANS:
        plan = load_plan(PLANS / f"{plan_name}.yaml", None)
        names |= {spec.step for spec in plan.states.values() if spec.step}
        names |= {plan.on_abort} if plan.on_abort else set()
    return StepRegistry({name: overrides.get(name, default) for name in names})


async def stop_here(ctx) -> None:
    raise Permanent(f"test stops in {ctx.state}")


def producing(**stops: bool) -> Callable[..., Any]:
    """A step that takes the state's forward event and produces what the next state requires (as real steps do);
    it stops (Permanent) in the states named in `stops`."""

    async def step(ctx: Any) -> Any:
        if ctx.state in stops:
            return await stop_here(ctx)
        spec = ctx.plan.state(ctx.state)
        if not spec.on:
            return None
        event = list(spec.on)[-1]
        produced = {key: f"{key}-value" for key in ctx.plan.state(spec.on[event]).requires if key not in ctx.data}
        if "sector_id" in produced:
            produced["sector_id"] = f"s-t01000-{ctx.thread_index + 1}"
        return Outcome(event, produced)

    return step


async def run_until(worker: Worker, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run the worker until `condition()` holds (checked between loop turns), then drain it."""
    runner = asyncio.create_task(worker.run())
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not condition():
            if runner.done():
                runner.result()
                raise AssertionError("worker stopped before the condition held")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached before the deadline")
            await asyncio.sleep(0.002)
    finally:
        worker.drain()
        await asyncio.wait_for(runner, timeout=10)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the event loop run until `condition()` holds; a hang guard, not a timing assertion."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.002)


def build_worker(machine_path: Path, home: Path, registry: StepRegistry, **options: Any) -> Worker:
    return Worker(load_machine_file(machine_path, home=home), registry, **options)

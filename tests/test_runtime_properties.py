"""Property test: random sequences of step outcomes and operator actions keep the runtime's invariants.

Invariants checked after every action: the task's state is one of its plan's; the history replays (from the
plan's initial state, event by event) to the stored state; the retry counter never exceeds the state's policy;
and a refused resume changes nothing.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer_fsm.runtime import AbortTask, ControlError, Critical, Outcome, Permanent, Temporary, Worker
from tests.harness import build_worker, registry_for

MAX_RETRIES = 3
FAILURES = {"temporary": Temporary, "permanent": Permanent, "critical": Critical, "abort": AbortTask}

step_outcomes = st.one_of(
    st.tuples(st.just("event"), st.integers(0, 3)),
    st.tuples(st.just("bad_event"), st.just(0)),
    st.tuples(st.just("fail"), st.sampled_from(sorted(FAILURES))),
)
operator_actions = st.one_of(
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(
        st.just("resume"),
        st.sampled_from(
            [
                "Empty",
                "PieceAdded",
                "TreeDBuilt",
                "PCSubmitted",
                "Finished",
                "Aborted",
                "Abort",
                "SnapEncoded",
                "Bogus",
                "persisted",
            ]
        ),
    ),
)
actions = st.lists(st.one_of(step_outcomes, operator_actions), min_size=1, max_size=40)


class ScriptedStep:
    """A step that waits for the test to hand it the outcome to produce."""

    def __init__(self) -> None:
        self.outcomes: asyncio.Queue = asyncio.Queue()
        self.waiting = False

    async def __call__(self, ctx):
        self.waiting = True
        try:
            kind, argument = await self.outcomes.get()
        finally:
            self.waiting = False
        events = list(ctx.plan.state(ctx.state).on)
        if kind == "fail":
            raise FAILURES[argument](f"injected in {ctx.state}")
        if kind == "bad_event" or not events:
            return "NotAnEvent"
        sector = ctx.data.get("sector_id", "s-t01000-1")
        return Outcome(events[argument % len(events)], {"sector_id": sector, "ticket": 1, "comm_d": 1, "pieces": 1})


def check_invariants(worker: Worker) -> None:
    info = worker.thread(0)
    if info.task_id is None:
        return
    task = worker.store.task(info.task_id)
    plan = worker.plan_of(0)
    assert plan.canonical_state(task.state) == task.state
    state = plan.initial
    for entry in worker.store.history(task.id):
        if entry.event is None:
            assert entry.from_state == entry.to_state == state
            continue
        assert entry.from_state == state
        assert entry.event == "SetState" or plan.target(state, entry.event) == entry.to_state
        state = entry.to_state
    assert state == task.state
    spec = plan.state(task.state)
    limit = spec.retry.max_retries if spec.retry and spec.retry.max_retries is not None else MAX_RETRIES
    assert 0 <= task.retry <= limit
    assert info.paused == task.paused


async def settle(worker: Worker, step: ScriptedStep) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not (step.outcomes.empty() and (step.waiting or worker.thread(0).paused)):
        assert loop.time() < deadline, "the thread did not settle"
        await asyncio.sleep(0.001)


async def until_paused(worker: Worker) -> None:
    """A pause "now" cancels the step; wait for the cancellation to land before the next action."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not worker.thread(0).paused:
        assert loop.time() < deadline, "pause now did not pause the thread"
        await asyncio.sleep(0.001)


async def drive(worker: Worker, step: ScriptedStep, script: list[tuple]) -> None:
    runner = asyncio.create_task(worker.run())
    try:
        for kind, argument in script:
            await settle(worker, step)
            check_invariants(worker)
            if kind == "pause":
                if worker.pause(0, now=argument) and argument:
                    await until_paused(worker)
            elif kind == "resume":
                before = (worker.thread(0).state, len(worker.history(0)), worker.thread(0).paused)
                try:
                    worker.resume(0, argument, force=True, reason="property test")
                except ControlError:
                    assert (worker.thread(0).state, len(worker.history(0)), worker.thread(0).paused) == before
            elif not worker.thread(0).paused:
                await step.outcomes.put((kind, argument))
        await settle(worker, step)
        check_invariants(worker)
    finally:
        worker.drain()
        await asyncio.wait_for(runner, timeout=10)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.sampled_from(["sealer", "snapup"]), script=actions)
def test_random_outcomes_and_operator_actions_keep_the_invariants(plan, script):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        machine = root / "machine.toml"
        machine.write_text(
            f'[worker]\ndrain_timeout = "0.05s"\n'
            f'[sealing]\nmax_retries = {MAX_RETRIES}\nseal_interval = "0s"\nrecover_interval = "0s"\n'
            f'[[sealing_thread]]\nlocation = "t0"\nplan = "{plan}"\n'
            '[[attached]]\nlocation = "store"\n'
        )

        async def scenario():
            step = ScriptedStep()

            async def noop(ctx):
                return None

            registry = registry_for(step, abort_sector=noop, report_finalized=noop)
            worker = build_worker(machine, root / "home", registry)
            await drive(worker, step, script)
            worker.close()

        asyncio.run(scenario())

"""A task follows the plan version it started with, even after its file changed and the worker restarted; new
tasks take the new version; the change is logged. Idle asks end an attempt after request_task_max_retries."""

from __future__ import annotations

import asyncio
import logging

from sealer_fsm.runtime import IDLE, Outcome, WorkerListener
from tests.conftest import PLANS
from tests.harness import build_worker, producing, registry_for, run_until, until


def test_an_open_task_keeps_its_plan_version_across_an_edit_and_a_restart(tmp_path, machine_file, caplog):
    caplog.set_level(logging.WARNING, "sealer_fsm")
    plan = tmp_path / "mine.yaml"
    original = (PLANS / "sealer.yaml").read_text()
    plan.write_text(original)
    path = machine_file([str(plan)])
    worker = build_worker(path, tmp_path / "h", registry_for(producing(PC1Done=True)))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    worker.close()

    # The edit drops PC1Done (TicketAssigned now goes straight to PC2Done): the paused task is in a state the new
    # version does not have.
    edited = original.replace("on: {PC1: PC1Done}", "on: {PC1: PC2Done}")
    start = edited.index("  PC1Done:")
    edited = edited[:start] + edited[edited.index("  PC2Done:") :]
    plan.write_text(edited)

    restarted = build_worker(path, tmp_path / "h", registry_for(producing(PC2Done=True)))

    async def scenario():
        runner = asyncio.create_task(restarted.run())
        await until(lambda: restarted.thread(0).paused)
        assert restarted.thread(0).state == "PC1Done" and restarted.thread(0).last_error.startswith("permanent")
        assert "PC1Done" in restarted.plan_of(0).states  # the version the task started with
        restarted.resume(0, "Abort", reason="start over")
        await until(lambda: len(restarted.store.tasks()) == 2 and restarted.thread(0).paused)
        assert restarted.thread(0).state == "PC2Done"
        assert "PC1Done" not in restarted.plan_of(0).states  # the new task took the new version
        restarted.drain()
        await runner

    asyncio.run(scenario())
    first, second = restarted.store.tasks()
    assert first.plan_hash != second.plan_hash
    assert restarted.store.plan_text(first.plan_hash) == original
    assert restarted.store.plan_text(second.plan_hash) == edited
    warnings = [record.getMessage() for record in caplog.records if "follows the version" in record.getMessage()]
    assert warnings and str(plan) in warnings[0] and first.plan_hash[:12] in warnings[0]


class Attempts(WorkerListener):
    def __init__(self) -> None:
        self.ended: list[int] = []

    def attempt_ended(self, thread, idles: int) -> None:
        self.ended.append(idles)


def test_more_idle_answers_than_request_task_max_retries_end_the_attempt(tmp_path, machine_file):
    asked = []

    async def nothing_yet(ctx):
        asked.append(1)
        return IDLE

    worker = build_worker(
        machine_file(["sealer"], sealing='request_task_max_retries = 2\nseal_interval = "1h"'),
        tmp_path / "h",
        registry_for(nothing_yet),
    )
    attempts = Attempts()
    worker.add_listener(attempts)

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: attempts.ended)
        assert len(asked) == 3  # more than 2 idle answers, then the thread waits seal_interval (an hour)
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert attempts.ended == [3]


def test_a_new_attempt_takes_the_plan_file_as_it_is_now(tmp_path, machine_file):
    plan = tmp_path / "mine.yaml"
    plan.write_text((PLANS / "sealer.yaml").read_text())
    asked = []

    async def allocate(ctx):
        asked.append(ctx.plan.states["Allocated"].stage)
        if len(asked) == 2:  # the operator edits the plan while the thread waits for work
            plan.write_text(plan.read_text().replace("stage: AcquireDeals", "stage: Deals"))
        if len(asked) < 5:
            return IDLE
        return Outcome("Allocate", {"sector_id": "s-t01000-1"})

    worker = build_worker(
        machine_file([str(plan)], sealing="request_task_max_retries = 1"),
        tmp_path / "h",
        registry_for(producing(Allocated=True), allocate_sector=allocate),
    )
    attempts = Attempts()
    worker.add_listener(attempts)
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    assert attempts.ended == [2, 2]
    assert asked == ["AcquireDeals", "AcquireDeals", "Deals", "Deals", "Deals"]
    (task,) = worker.store.tasks()
    assert worker.store.plan_text(task.plan_hash) == plan.read_text()

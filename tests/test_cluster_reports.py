"""ReportState as the reference sends it: after every state change and every failed step, with the worker's
name, the thread's location and the failure's level and description; and a manager that answers "finalized"
for a sector a thread still works on makes the thread abort it (in process, against the embedded devnet)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _devnet_helpers import devnet_machine

from sealer_fsm.assembly import attached_stores, build_manager
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import SectorId, SectorStateReply, StateReport
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.reporting import StateReporter
from sealer_fsm.runtime import Services, Worker, WorkerListener
from sealer_fsm.steps import builtin_registry


class Reports:
    """Wraps the worker's manager: records every report sent and can answer one sector as finalized."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.sent: list[tuple[SectorId, StateReport]] = []
        self.dropped: set[SectorId] = set()

    async def report_state(self, sector: SectorId, report: StateReport) -> SectorStateReply:
        self.sent.append((sector, report))
        reply = await self.manager.report_state(sector, report)
        return SectorStateReply(True, "dropped by the test") if sector in self.dropped else reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)


def worker_with_reports(tmp_path: Path, **devnet: Any) -> tuple[Worker, Reports]:
    """A worker wired as build_worker wires it, with `Reports` between the steps and the devnet."""
    config = load_machine_file(devnet_machine(tmp_path, ["sealer"], devnet), tmp_path / "home")
    reports = Reports(build_manager(config))
    worker = Worker(config, builtin_registry(), services=Services(manager=reports, stores=attached_stores(config)))
    worker.add_listener(StateReporter(worker, reports))
    return worker, reports


class StopAfter(WorkerListener):
    def __init__(self, worker: Worker, closed: int) -> None:
        self.worker, self.closed, self.tasks = worker, closed, []

    def task_closed(self, thread: Any, task: Any) -> None:
        self.tasks.append(task)
        if len(self.tasks) >= self.closed:
            self.worker.drain()


def test_every_change_and_every_failure_is_reported_with_the_worker_and_location(tmp_path: Path) -> None:
    worker, reports = worker_with_reports(tmp_path, rpc_error_rate=0.3, seed=11)
    worker.add_listener(StopAfter(worker, 2))
    asyncio.run(asyncio.wait_for(worker.run(), 60))
    worker.close()
    assert reports.sent
    location = str(worker.config.threads[0].location)
    assert {(report.instance, report.location) for _, report in reports.sent} == {("test", location)}
    changes = [(report.previous, report.event, report.current) for _, report in reports.sent if report.event]
    assert ("Empty", "Allocate", "Allocated") in changes and ("ProofSubmitted", "Finish", "Finished") in changes
    failures = [report for _, report in reports.sent if report.failure is not None]
    assert failures, "injected RPC errors fail steps, and each failure is reported"
    for report in failures:
        assert report.failure.level == "Temporary" and "devnet: injected" in report.failure.desc
        assert not report.failure.desc.startswith("temporary: "), "the level is not repeated in the description"
    assert all(report.previous == report.current for report in failures)


def test_a_finalized_reply_for_a_sector_in_progress_aborts_it_and_the_thread_goes_on(tmp_path: Path) -> None:
    worker, reports = worker_with_reports(tmp_path)
    stop = StopAfter(worker, 2)
    worker.add_listener(stop)

    class DropTheFirstSector(WorkerListener):
        def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
            if destination == "PC1Done" and not reports.dropped:
                reports.dropped.add(SectorId.parse(thread.task.sector))

    worker.add_listener(DropTheFirstSector())
    asyncio.run(asyncio.wait_for(worker.run(), 60))
    first, second = stop.tasks
    assert first.state == ABORT_STATE and second.state == "Finished"
    abort = next(entry for entry in worker.store.history(first.id) if entry.to_state == ABORT_STATE)
    worker.close()
    assert (abort.actor, abort.reason) == ("manager", "the manager dropped the sector: dropped by the test")
    record = worker.services.manager.sector_record(SectorId.parse(first.sector))
    assert record["status"] == "aborted"

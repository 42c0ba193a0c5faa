"""An abort never needs an operator because the manager was down: a failing ReportAborted is kept (durably) and
retried in the background while the thread takes its next task; a restart still reports it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import ManagerError, SectorId
from tests.conftest import PLANS
from tests.harness import until


def machine(tmp_path: Path) -> Path:
    plan = tmp_path / "aborting.yaml"
    plan.write_text(
        (PLANS / "sealer.yaml")
        .read_text()
        .replace("    step: acquire_deals\n", "    step: tests.support.plan_steps:abort_the_sector\n")
    )
    path = tmp_path / "machine.toml"
    path.write_text(
        '[worker]\nname = "abort"\ndrain_timeout = "1s"\n'
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "0.01s"\nrpc_polling_interval = "0s"\n'
        f'[[sealing_thread]]\nlocation = "t0"\nplan = "{plan}"\n'
        '[[attached]]\nname = "store"\nlocation = "store"\n'
        '[sector_manager.devnet]\nblock_time = "1ms"\n'
    )
    return path


class ManagerDown:
    """The devnet, with ReportAborted failing while `down` is set."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.down = True
        self.failed = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def report_aborted(self, sector: SectorId, reason: str) -> None:
        if self.down:
            self.failed += 1
            raise ManagerError("devnet: connection refused (test)")
        await self._inner.report_aborted(sector, reason)


def with_manager_down(worker) -> ManagerDown:
    down = ManagerDown(worker.services.manager)
    object.__setattr__(worker.services, "manager", down)
    return down


def status(worker, number: int) -> str:
    return worker.services.manager.sector_record(SectorId(1000, number))["status"]


def test_a_failing_report_never_parks_the_thread_and_is_retried_until_it_lands(tmp_path, caplog):
    caplog.set_level(logging.WARNING, "sealer_fsm")
    worker = build_worker(load_machine_file(machine(tmp_path), home=tmp_path / "home"))
    manager = with_manager_down(worker)

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: len([t for t in worker.store.tasks() if t.closed_at]) >= 3)
        assert not worker.thread(0).paused  # the thread went on to its next tasks
        assert manager.failed >= 3 and status(worker, 1) == "allocated"
        assert {entry.key for entry in worker.store.deferred()} >= {"ReportAborted s-t01000-1"}
        manager.down = False
        await until(lambda: status(worker, 1) == "aborted" and status(worker, 2) == "aborted")
        worker.drain()
        await runner

    asyncio.run(scenario())
    (task, *_) = worker.store.tasks()
    assert (task.state, task.closed_at is not None) == ("Abort", True)
    reason = worker.services.manager.sector_record(SectorId(1000, 1))["abort_reason"]
    assert "test: s-t01000-1 cannot be sealed" in reason
    assert any("ReportAborted s-t01000-1 failed (attempt 2)" in record.getMessage() for record in caplog.records)


def test_a_restart_still_reports_an_abort_the_manager_never_heard_of(tmp_path):
    path = machine(tmp_path)
    worker = build_worker(load_machine_file(path, home=tmp_path / "home"))
    with_manager_down(worker)

    async def until_one_abort_is_pending():
        runner = asyncio.create_task(worker.run())
        await until(lambda: worker.store.deferred())
        worker.drain()
        await runner

    asyncio.run(until_one_abort_is_pending())
    pending = {entry.key for entry in worker.store.deferred()}
    worker.services.manager.close()
    worker.close()

    restarted = build_worker(load_machine_file(path, home=tmp_path / "home"))
    numbers = [int(key.rsplit("-", 1)[1]) for key in pending]

    async def after_restart():
        runner = asyncio.create_task(restarted.run())
        await until(lambda: all(status(restarted, number) == "aborted" for number in numbers))
        await until(lambda: not {entry.key for entry in restarted.store.deferred()} & pending)
        restarted.drain()
        await runner

    asyncio.run(after_restart())


def test_an_aborted_upgrade_leaves_no_update_files_in_the_store(tmp_path):
    """Snapup aborted after its update was persisted: the updated replica goes, the sealed sector under it stays;
    and both databases and the disk agree afterwards."""
    from _devnet_helpers import devnet_machine

    from tests.support.consistency import check_both_databases

    plan = tmp_path / "snap-abort.yaml"
    plan.write_text(
        (PLANS / "snapup.yaml")
        .read_text()
        .replace("    step: submit_snapup_proof\n", "    step: tests.support.plan_steps:abort_the_sector\n")
    )
    machine = devnet_machine(tmp_path, ["sealer", str(plan)])
    worker = build_worker(load_machine_file(machine, home=tmp_path / "home"))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(
            lambda: any(t.thread == 1 and t.state == "Abort" and t.closed_at for t in worker.store.tasks()), timeout=60
        )
        worker.drain()
        await runner

    asyncio.run(scenario())
    (aborted, *_) = [t for t in worker.store.tasks() if t.thread == 1 and t.state == "Abort" and t.closed_at]
    home = tmp_path / "home"
    for store in ("store-a", "store-b"):
        assert not list((home / store / "update").glob(f"{aborted.sector}*"))
        assert not list((home / store / "update-cache").glob(f"{aborted.sector}*"))
    assert any((home / store / "sealed" / aborted.sector).is_file() for store in ("store-a", "store-b"))
    worker.services.manager.close()
    worker.close()
    check_both_databases(home, [home / "t0", home / "t1"], [home / "store-a", home / "store-b"])

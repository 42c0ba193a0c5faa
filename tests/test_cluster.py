"""What must hold for a cluster: three worker processes, two threads each, seal for one `devnet serve` process
that is killed with SIGKILL twice mid-run and started again each time.

Every worker rides out the outages (its calls are retried, no thread pauses), every sector is sealed once and
by one worker, no sector number is handed out twice, the persisted files land in the shared stores, and
`sealer-fsm devnet workers` lists the three workers by their last ping."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sealer_fsm.cli import main
from sealer_fsm.control import ControlClient
from tests.support.cluster import (
    STORES,
    DevnetProcess,
    WorkerProcess,
    free_port,
    wait_until,
    write_manager_file,
    write_worker_file,
)

SECTORS = 30
WORKERS = ("w1", "w2", "w3")
# A reference key we do not implement: the worker must say so once, and seal anyway.
REFERENCE_ONLY = "[attached_selection]\nenable_space_weighted = true\n"


def tasks_of(home: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["sectors", "list", "--home", str(home), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_three_workers_seal_for_one_devnet_that_is_killed_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    devnet = DevnetProcess(write_manager_file(tmp_path, port), tmp_path / "manager", port)
    workers = [
        WorkerProcess(name, write_worker_file(tmp_path, name, port, extra=REFERENCE_ONLY), tmp_path / name)
        for name in WORKERS
    ]

    def alive() -> None:
        for worker in workers:
            assert worker.process is not None and worker.process.poll() is None, worker.log.read_text()[-3000:]

    devnet.start()
    try:
        for worker in workers:
            worker.start()
        for kill_after in (SECTORS // 3, 2 * SECTORS // 3):
            wait_until(lambda n=kill_after: devnet.finalized() >= n, f"{kill_after} sectors", 150, alive)
            devnet.kill()  # mid-run: some calls are in flight, some replies are lost
            devnet.start()
        wait_until(lambda: devnet.finalized() >= SECTORS, f"{SECTORS} sectors", 150, alive)
        wait_until(lambda: len(pings(devnet, capsys)) == 3, "three pinging workers", 30, alive)
        listed = pings(devnet, capsys)
        threads = {worker.name: ControlClient(worker.control).call("VenusWorker.WorkerList") for worker in workers}
    finally:
        exits = [worker.stop() for worker in workers if worker.process is not None]
        devnet.stop()
    logs = {worker.name: worker.log.read_text() for worker in workers}

    # Every worker rode out both outages: running to the end, no thread paused, exit 0 on SIGTERM.
    assert exits == [0, 0, 0], logs
    for name, log in logs.items():
        assert "Traceback" not in log and "paused" not in log, log[-3000:]
        assert "unreachable" in log, f"{name} never noticed the manager was gone"
        assert log.count("warning: ") == 1 and "[attached_selection] (enable_space_weighted): accepted" in log
    for infos in threads.values():
        assert [info["thread_state"]["state"] != "Paused" and not info["last_error"] for info in infos] == [True] * 2

    # One chain, one owner per sector, no number twice.
    tasks = {worker.name: tasks_of(worker.home, capsys) for worker in workers}
    owners = Counter(task["sector"] for worker_tasks in tasks.values() for task in worker_tasks)
    assert all(count == 1 for count in owners.values()), [sector for sector, n in owners.items() if n > 1]
    finished = {
        task["sector"] for worker_tasks in tasks.values() for task in worker_tasks if task["state"] == "Finished"
    }
    assert len(finished) >= SECTORS and all(tasks.values()), "every worker sealed"
    chain = {f"s-t01000-{row['number']}": row for row in devnet.sectors()}
    assert set(chain) == set(owners), "every sector the chain allocated belongs to exactly one worker's task"
    accepted = devnet.accepted_submissions()
    for sector in finished:
        number = int(sector.rsplit("-", 1)[1])
        assert accepted[number, "precommit"] == 1 and accepted[number, "proof"] == 1, "sealed exactly once"
        # proven: the worker was stopped in Finished before its ReportFinalized (a restart reports it)
        assert chain[sector]["status"] in ("finalized", "proven")
        store = tmp_path / chain[sector]["persisted"]
        assert chain[sector]["persisted"] in STORES
        assert (store / "sealed" / sector).is_file() and (store / "cache" / sector).is_dir()

    # The manager lists the three workers with their last ping and where their control RPC listens.
    assert sorted(record["name"] for record in listed) == list(WORKERS)
    assert {record["name"]: record["dest"] for record in listed} == {w.name: w.control for w in workers}
    assert all(record["summary"]["threads"] == 2 for record in listed)


def pings(devnet: DevnetProcess, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["devnet", "workers", "--host", devnet.address, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_sector_dropped_on_the_manager_is_aborted_by_its_worker_which_takes_the_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    # Pre-commits take 2 s to land, so a sector waits in PCSubmitted long enough to be dropped on the manager.
    devnet = DevnetProcess(write_manager_file(tmp_path, port, {"precommit_epochs": "200"}), tmp_path / "manager", port)
    worker = WorkerProcess("w1", write_worker_file(tmp_path, "w1", port, threads=1), tmp_path / "w1")

    def alive() -> None:
        assert worker.process is not None and worker.process.poll() is None, worker.log.read_text()[-3000:]

    def thread() -> dict:
        return ControlClient(worker.control).call("VenusWorker.WorkerList")[0]

    devnet.start()
    try:
        worker.start()
        wait_until(lambda: thread()["job_state"] == "PCSubmitted", "a sector waiting for its pre-commit", 60, alive)
        dropped = thread()["job_id"]
        assert main(["devnet", "abort", dropped, "--host", devnet.address, "--reason", "bad deal"]) == 0
        wait_until(lambda: thread()["job_id"] not in (None, dropped), "the next sector", 60, alive)
        after = thread()
    finally:
        exit_code = worker.stop()
        devnet.stop()
    capsys.readouterr()
    assert exit_code == 0 and after["last_error"] is None and after["thread_state"]["state"] != "Paused"
    assert main(["sectors", "history", dropped, "--home", str(worker.home), "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    abort = next(entry for entry in history if entry["to"] == "Abort")
    assert (abort["actor"], abort["reason"]) == ("manager", "the manager dropped the sector: bad deal")
    assert [task["state"] for task in tasks_of(worker.home, capsys) if task["sector"] == dropped] == ["Abort"]
    leftovers = [path for path in (worker.home / "threads").rglob("*") if dropped in path.name]
    assert leftovers == [], "the dropped sector's files are removed"
    row = next(row for row in devnet.sectors() if f"s-t01000-{row['number']}" == dropped)
    assert (row["status"], row["abort_reason"]) == ("aborted", "bad deal")

"""SIGKILL a worker at random moments, dozens of times: no task, state change or history row is ever lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from _devnet_helpers import devnet_machine

from sealer_fsm.plans import load_plan
from sealer_fsm.store import TaskStore
from tests.conftest import PLANS, REPO
from tests.support.consistency import check_both_databases

KILLS = 30
PLANS_BY_NAME = {name: load_plan(PLANS / f"{name}.yaml", None) for name in ("sealer", "snapup")}


def start(machine: Path, home: Path, journal: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "_crash_worker.py"), str(machine), str(home), str(journal)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_progress(journal: Path, since: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if journal.exists() and journal.stat().st_size > since:
            return
        time.sleep(0.01)
    raise AssertionError("the worker made no progress")


def check_invariants(home: Path, journal: Path) -> int:
    """Check the store against the plans and the journal; returns the number of applied events."""
    store = TaskStore.in_home(home, readonly=True)
    try:
        tasks = store.tasks()
        assert [task.id for task in tasks] == list(range(1, len(tasks) + 1)), "a task went missing"
        open_threads = [task.thread for task in tasks if task.closed_at is None]
        assert len(open_threads) == len(set(open_threads)), "two open tasks on one thread"
        events_by_task = {}
        for task in tasks:
            plan = PLANS_BY_NAME[task.plan]
            assert plan.canonical_state(task.state) == task.state, f"task {task.id} in unknown state {task.state}"
            if task.closed_at is not None:
                assert plan.is_final(task.state)
            moves = [entry for entry in store.history(task.id) if entry.event is not None]
            state = plan.initial
            for entry in moves:
                assert entry.from_state == state, f"task {task.id}: history does not chain at seq {entry.seq}"
                assert plan.target(state, entry.event) == entry.to_state
                state = entry.to_state
            assert state == task.state, f"task {task.id}: history replays to {state}, stored {task.state}"
            assert task.data.get("applied", 0) == len(moves), f"task {task.id}: data and history disagree"
            events_by_task[task.id] = moves
        journalled = journal.read_text().splitlines() if journal.exists() else []
        for line in journalled:
            task_id, source, event, destination, applied = line.split()
            entry = events_by_task[int(task_id)][int(applied) - 1]
            assert (entry.from_state, entry.event, entry.to_state) == (source, event, destination), line
        return sum(len(moves) for moves in events_by_task.values())
    finally:
        store.close()


def test_sigkill_at_random_moments_loses_nothing(tmp_path, machine_file):
    machine = machine_file(["sealer", "sealer", "snapup"], sealing="max_retries = 1000")
    home, journal = tmp_path / "home", tmp_path / "journal"
    rng = random.Random(20261128)
    applied = 0
    for _ in range(KILLS):
        size = journal.stat().st_size if journal.exists() else 0
        process = start(machine, home, journal)
        try:
            wait_for_progress(journal, size, time.monotonic() + 30)
            time.sleep(rng.uniform(0.0, 0.15))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        now_applied = check_invariants(home, journal)
        assert now_applied >= applied
        applied = now_applied
    assert applied > KILLS  # the worker went on making progress across the restarts

    process = start(machine, home, journal)
    wait_for_progress(journal, journal.stat().st_size, time.monotonic() + 30)
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    check_invariants(home, journal)
    finished = [task for task in TaskStore.in_home(home, readonly=True).tasks() if task.state == "Finished"]
    assert finished


# -- a real worker (built-in steps, devnet) killed right after the manager applied a call ---------------------

DEVNET_WORKER = REPO / "tests" / "support" / "devnet_worker.py"
KILL_POINTS = [
    "allocate_sector:1",
    "allocate_sector:3",
    "allocate_snapup_sector:1",
    "submit_precommit:1",
    "submit_persisted:1",
    "submit_proof:1",
    "submit_snapup_proof:1",
    "report_finalized:1",
    "report_aborted:1",
]


def run_devnet_worker(machine: Path, home: Path, *options: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEVNET_WORKER), str(machine), str(home), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sigkill_right_after_each_manager_call_loses_no_sector(tmp_path):
    """For every call that changes the manager's state, kill the worker right after the manager applied it (before
    the worker stored the answer); the restarted worker picks every sector up, and both databases agree."""
    machine = devnet_machine(
        tmp_path,
        ["sealer", "sealer", "snapup"],
        {"abort_rate": 0.3, "precommit_fail_rate": 0.3, "proof_fail_rate": 0.3, "files_missed_rate": 0.5},
    )
    home = tmp_path / "home"
    first = run_devnet_worker(machine, home, "--sectors", "4", timeout=240)  # finished CC sectors to upgrade
    assert first.returncode == 0, first.stderr[-2000:]
    for point in KILL_POINTS:
        killed = run_devnet_worker(machine, home, "--kill-after", point)
        assert killed.returncode == -signal.SIGKILL, f"{point}: {killed.stderr[-2000:]}"
        check_both_databases(home, locations(home, 3), stores(home))
    finished = run_devnet_worker(machine, home, "--sectors", "14", timeout=240)
    assert finished.returncode == 0, finished.stderr[-2000:]
    counts = check_both_databases(home, locations(home, 3), stores(home))
    assert counts["finished"] >= 14 and counts["aborted"] >= 1


def locations(home: Path, threads: int) -> list[Path]:
    return [home / f"t{index}" for index in range(threads)]


def stores(home: Path) -> list[Path]:
    return [home / "store-a", home / "store-b"]


SOAK_SECONDS = 45.0


def test_soak_random_sigkills_and_restarts_at_high_failure_rates(tmp_path):
    """Six threads, failures injected everywhere, killed at random moments and right after random manager calls,
    restarted each time: after every kill and at the end, both databases and the disk agree."""
    machine = devnet_machine(
        tmp_path,
        ["sealer", "sealer", "sealer", "sealer", "snapup", "snapup"],
        {
            "precommit_fail_rate": 0.3,
            "proof_fail_rate": 0.3,
            "files_missed_rate": 0.4,
            "rpc_error_rate": 0.1,
            "abort_rate": 0.15,
            "ticket_expiry_epochs": 1_000_000,
        },
        sealing="max_retries = 1000",
    )
    home = tmp_path / "home"
    rng = random.Random(20261129)
    deadline = time.monotonic() + SOAK_SECONDS
    kills = 0
    while time.monotonic() < deadline:
        if rng.random() < 0.5:
            point = f"{rng.choice(KILL_POINTS).split(':')[0]}:{rng.randint(1, 3)}"
            try:
                outcome = run_devnet_worker(machine, home, "--kill-after", point, timeout=20)
                assert outcome.returncode == -signal.SIGKILL, outcome.stderr[-2000:]
            except subprocess.TimeoutExpired:
                pass  # that call did not come within the time: subprocess.run killed the worker (SIGKILL)
        else:
            process = subprocess.Popen(
                [sys.executable, str(DEVNET_WORKER), str(machine), str(home)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 2.0))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        kills += 1
        check_both_databases(home, locations(home, 6), stores(home))
    before = check_both_databases(home, locations(home, 6), stores(home))
    final = run_devnet_worker(machine, home, "--sectors", str(before["finished"] + 6), timeout=240)
    assert final.returncode == 0, final.stderr[-2000:]
    after = check_both_databases(home, locations(home, 6), stores(home))
    assert kills >= 15
    assert after["finished"] >= before["finished"] + 6 and after["aborted"] >= 1

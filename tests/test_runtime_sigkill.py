"""SIGKILL a worker at random moments, dozens of times: no task, state change or history row is ever lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sealer_fsm.plans import load_plan
from sealer_fsm.store import TaskStore
from tests.conftest import PLANS, REPO

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

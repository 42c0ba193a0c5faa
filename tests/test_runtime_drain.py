"""SIGTERM drains `sealer-fsm run`: blocking work is cancelled at drain_timeout, the task stays where it was, the
exit status is 0; a SIGTERM during start-up drains too; a home or database that cannot be used is one line."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from sealer_fsm.cli import main
from sealer_fsm.store import TaskStore
from tests.conftest import PLANS, REPO

HANG_GUARD = 120  # seconds: far beyond a working drain, only there to fail a hanging one


def machine(tmp_path: Path, allocated_step: str, drain_timeout: str = "0.3s") -> Path:
    plan = tmp_path / "blocking.yaml"
    plan.write_text(
        (PLANS / "sealer.yaml").read_text().replace("    step: acquire_deals\n", f"    step: {allocated_step}\n")
    )
    path = tmp_path / "machine.toml"
    path.write_text(
        f'[worker]\nname = "drain"\ndrain_timeout = "{drain_timeout}"\n'
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "0s"\nrpc_polling_interval = "0s"\n'
        f'[[sealing_thread]]\nlocation = "t0"\nplan = "{plan}"\n'
        '[[attached]]\nname = "store"\nlocation = "store"\n'
    )
    return path


def start(machine_path: Path, home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine_path), "--home", str(home), "--listen", ":0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def open_task(home: Path):
    store = TaskStore.in_home(home, readonly=True)
    try:
        (task,) = [task for task in store.tasks() if task.closed_at is None]
        return task, store.history(task.id)
    finally:
        store.close()


@pytest.mark.parametrize(
    "step",
    ["tests.support.plan_steps:hash_a_big_sparse_file", "tests.support.plan_steps:sleep_ignoring_cancellation"],
)
def test_sigterm_cancels_blocking_work_at_the_drain_timeout_and_exits_zero(tmp_path, step):
    home = tmp_path / "home"
    process = start(machine(tmp_path, step), home)
    wait_for(home / "t0" / "started", process)
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=HANG_GUARD)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    task, history = open_task(home)
    assert (task.state, task.paused) == ("Allocated", False)  # the step will run again on the next start
    assert [entry.to_state for entry in history] == ["Allocated"]


def test_sigterm_during_start_up_drains(tmp_path, monkeypatch):
    """The signal arrives while the worker is still being built: the handler is already there, the worker drains
    before any step runs, and `run` exits 0 (without the drain, it would seal a sector and then stop)."""
    import sealer_fsm.cli.run as run_command

    built = []
    real_build = run_command.build_worker

    def build_then_signal(*args, **kwargs):
        worker = real_build(*args, **kwargs)
        built.append(worker)
        os.kill(os.getpid(), signal.SIGTERM)
        return worker

    monkeypatch.setattr(run_command, "build_worker", build_then_signal)
    missed = []
    previous = signal.signal(signal.SIGTERM, lambda *_: missed.append(1))  # keeps pytest alive if unhandled
    try:
        path = machine(tmp_path, "acquire_deals")
        home = tmp_path / "home"
        assert main(["run", "-c", str(path), "--home", str(home), "--sectors", "1", "--listen", "127.0.0.1:0"]) == 0
        assert missed == []
        assert signal.getsignal(signal.SIGTERM) is not None and missed == []
    finally:
        signal.signal(signal.SIGTERM, previous)
    store = TaskStore.in_home(tmp_path / "home", readonly=True)
    assert all(task.state == "Empty" for task in store.tasks())


def test_sigterm_as_the_worker_starts_exits_zero(tmp_path):
    home = tmp_path / "home"
    process = start(machine(tmp_path, "tests.support.plan_steps:sleep_ignoring_cancellation"), home)
    wait_for(home / "worker.lock", process)  # written while the worker is being built
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=HANG_GUARD)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors


# -- homes and databases that cannot be used: one line from `run` ---------------------------------------------


def run_once(tmp_path: Path, home: Path, capsys) -> tuple[int, str]:
    path = machine(tmp_path, "acquire_deals")
    status = main(["run", "-c", str(path), "--home", str(home), "--sectors", "1", "--listen", "127.0.0.1:0"])
    return status, capsys.readouterr().err


def _prepared_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


CASES = {
    "truncated worker db": (
        lambda home: _write(home / "sealer-fsm.db", b"SQLite format 3\x00" + b"\x10\x00"),
        "sealer-fsm.db",
    ),
    "random bytes": (lambda home: _write(home / "sealer-fsm.db", os.urandom(4096)), "is not an SQLite database"),
    "a directory": (lambda home: (home / "sealer-fsm.db").mkdir(), "is a directory"),
    "random devnet db": (lambda home: _write(home / "devnet.db", os.urandom(4096)), "devnet.db is not an SQLite"),
    "foreign devnet db": (lambda home: _foreign(home / "devnet.db"), "devnet.db is not the devnet's chain database"),
    "worker db as devnet db": (
        lambda home: (TaskStore(home / "devnet.db").close()),
        "devnet.db is a sealer-fsm task database, not the devnet's chain database",
    ),
}


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE foo (x)")
    db.commit()
    db.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_home_with_a_bad_database_is_refused_in_one_line(tmp_path, capsys, case):
    make, expected = CASES[case]
    home = _prepared_home(tmp_path)
    make(home)
    status, errors = run_once(tmp_path, home, capsys)
    assert status != 0
    assert expected in errors and errors.count("\n") == 1 and "Traceback" not in errors


@contextmanager
def read_only(path: Path):
    """Make `path` refuse writes for this process: immutable for root (who ignores permissions), else chmod."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("cannot make a file immutable here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(stat.S_IRUSR | stat.S_IXUSR if path.is_dir() else stat.S_IRUSR)
        try:
            yield
        finally:
            path.chmod(mode)


def test_a_read_only_home_is_refused_in_one_line(tmp_path, capsys):
    home = _prepared_home(tmp_path)
    with read_only(home):
        status, errors = run_once(tmp_path, home, capsys)
    assert status != 0 and errors.count("\n") == 1 and str(home) in errors and "Traceback" not in errors


@pytest.mark.parametrize("database", ["devnet.db", "sealer-fsm.db"])
def test_a_read_only_database_is_refused_in_one_line(tmp_path, capsys, database):
    home = _prepared_home(tmp_path)
    assert run_once(tmp_path, home, capsys)[0] == 0  # a first run creates both databases
    with read_only(home / database):
        status, errors = run_once(tmp_path, home, capsys)
    assert status != 0 and errors.count("\n") == 1 and database in errors and "Traceback" not in errors

"""`sealer-fsm run` and `sealer-fsm sectors` as an operator uses them: bad files refused, output, SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _devnet_helpers import devnet_machine

from sealer_fsm.cli import main
from sealer_fsm.manager.devnet import DATABASE_NAME
from sealer_fsm.store import StoreError, TaskStore

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda text: text.replace("[sealing]", "[sealing]\nmax_retires = 3"), "max_retires"),
        (lambda text: text.replace("proof_epochs = 2", 'proof_epochs = "two"'), "proof_epochs"),
        (lambda text: text.replace('plan = "sealer"', 'plan = "plans/missing.yaml"'), "plan"),
        (lambda text: text + "abort_rate = -0.1\n", "abort_rate"),
    ],
    ids=["unknown key", "wrong type", "missing plan file", "negative rate"],
)
def test_bad_machine_files_are_refused_with_one_line(tmp_path: Path, capsys, edit, named: str) -> None:
    path = devnet_machine(tmp_path, ["sealer"])
    path.write_text(edit(path.read_text()))
    assert (
        main(["run", "-c", str(path), "--home", str(tmp_path / "home"), "--sectors", "1", "--listen", "127.0.0.1:0"])
        == 1
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("sealer-fsm: ")
    assert named in error
    assert not (tmp_path / "home" / DATABASE_NAME).exists(), "nothing started"


def test_run_seals_n_sectors_and_sectors_shows_them(tmp_path: Path, capsys) -> None:
    machine = devnet_machine(tmp_path, ["sealer", "sealer"], {"precommit_fail_rate": 0.3})
    home = tmp_path / "home"
    assert main(["run", "-c", str(machine), "--home", str(home), "--sectors", "3", "--listen", "127.0.0.1:0"]) == 0
    summary = capsys.readouterr().out
    # At least 3: draining lets the sector the other thread is sealing finish too.
    finished_count = int(re.search(r"(\d+) sectors? finished", summary).group(1))
    assert finished_count >= 3 and "0 aborted" in summary and "simulated" in summary

    assert main(["sectors", "list", "--home", str(home), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    finished = [row for row in listed if row["state"] == "Finished"]
    assert len(finished) >= 3
    assert set(listed[0]) == {
        *("task", "sector", "plan", "state", "thread", "paused", "last_error", "retry", "comm_d", "comm_r"),
        *("simulated", "closed", "paused_by", "paused_at", "pause_reason"),
    }
    assert finished[0]["comm_d"].startswith("baga6ea4seaq") and finished[0]["comm_r"].startswith("bagboea4b5abc")

    sector = finished[0]["sector"]
    assert main(["sectors", "history", sector, "--home", str(home), "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert history[0]["from"] == "Empty" and history[-1]["to"] == "Finished"
    assert {"seq", "at", "from", "event", "to", "failure"} <= set(history[0])

    assert main(["sectors", "list", "--home", str(home)]) == 0
    table = capsys.readouterr().out
    assert sector in table and "(simulated)" not in table  # PC2 is real: so is the CommR shown


def test_sectors_refuses_an_unknown_sector_or_home(tmp_path: Path, capsys) -> None:
    machine = devnet_machine(tmp_path, ["sealer"])
    home = tmp_path / "home"
    assert main(["run", "-c", str(machine), "--home", str(home), "--sectors", "1", "--listen", "127.0.0.1:0"]) == 0
    capsys.readouterr()
    assert main(["sectors", "history", "s-t01000-999", "--home", str(home)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["sectors", "list", "--home", str(tmp_path / "nowhere")]) == 1
    assert "no sealer-fsm database" in capsys.readouterr().err


def start_worker(machine: Path, home: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "sealer_fsm",
        "run",
        "-c",
        str(machine),
        "--home",
        str(home),
        "--listen",
        "127.0.0.1:0",
        *extra,
    ]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def tasks(home: Path) -> list:
    """The worker's tasks as a reader sees them; none while the worker is still creating its database."""
    try:
        store = TaskStore.in_home(home, readonly=True)
    except StoreError:
        return []
    try:
        return store.tasks()
    finally:
        store.close()


def test_sigkill_mid_run_then_restart_loses_no_sector(tmp_path: Path) -> None:
    machine = devnet_machine(
        tmp_path,
        ["sealer", "sealer", "sealer"],
        {"block_time": '"40ms"', "precommit_fail_rate": 0.3, "proof_fail_rate": 0.3},
        "enable_deals = true",
    )
    home = tmp_path / "home"
    first = start_worker(machine, home)
    deadline = time.monotonic() + 60
    while not any(task.state == "Finished" for task in tasks(home)) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # The worker is dead, so the database no longer changes; a reader may still find it busy for a moment (tasks()
    # answers [] then), so read until it answers.
    deadline = time.monotonic() + 10
    while not (read := tasks(home)) and time.monotonic() < deadline:
        time.sleep(0.05)
    at_kill = {task.id: task for task in read}
    open_at_kill = [task for task in at_kill.values() if task.closed_at is None]
    assert open_at_kill, "the kill happened mid-run"

    second = start_worker(machine, home, "--sectors", "6")
    assert second.wait(timeout=90) == 0, second.stderr.read()
    after = {task.id: task for task in tasks(home)}
    for task in open_at_kill:
        assert after[task.id].state == "Finished", f"{task.sector} was open in {task.state} at the kill"
    assert all(task.state == "Finished" for task in after.values() if task.closed_at is not None)
    from sealer_fsm.manager.devnet._db import DevnetDatabase

    submissions = DevnetDatabase(home / DATABASE_NAME).submissions()
    assert not [entry for entry in submissions if entry["result"] == "MISMATCHED_SUBMISSION"]


def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    machine = devnet_machine(tmp_path, ["sealer", "snapup"], {"block_time": '"40ms"'})
    home = tmp_path / "home"
    worker = start_worker(machine, home)
    deadline = time.monotonic() + 60
    while not tasks(home) and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert "draining" in worker.stderr.read()


def test_a_relative_plan_path_is_relative_to_the_machine_file(tmp_path: Path, capsys, monkeypatch) -> None:
    """`plan = "../plans/custom.yaml"` in machines/m.toml means <project>/plans/custom.yaml, wherever the command
    runs; a missing one is named by the absolute path that was tried."""
    project = tmp_path / "project"
    (project / "machines").mkdir(parents=True)
    (project / "plans").mkdir()
    (project / "plans" / "custom.yaml").write_text((REPO / "plans" / "sealer.yaml").read_text())
    machine = devnet_machine(project / "machines", ["sealer"])
    machine.write_text(machine.read_text().replace('plan = "sealer"', 'plan = "../plans/custom.yaml"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sectors", "list", "-c", str(machine)]) == 1
    assert "no sealer-fsm database" in capsys.readouterr().err  # the machine file, plan included, was read

    machine.write_text(machine.read_text().replace("custom.yaml", "missing.yaml"))
    assert main(["sectors", "list", "-c", str(machine)]) == 1
    expected = f"[[sealing_thread]] #0 plan: plan file not found ({project / 'plans' / 'missing.yaml'})"
    assert expected in capsys.readouterr().err


def test_temporary_failures_and_retries_show_in_the_output_of_run(tmp_path: Path, capsys) -> None:
    """Issue 11 #10: as README and docs/devnet.md say, each retry is a WARNING line with its attempt and the time of
    the next try, in the plain output of a real run."""
    machine = devnet_machine(tmp_path, ["sealer", "sealer"], {"rpc_error_rate": 0.3})
    home = tmp_path / "home"
    assert main(["run", "-c", str(machine), "--home", str(home), "--sectors", "2", "--listen", "127.0.0.1:0"]) == 0
    err = capsys.readouterr().err
    retry = re.compile(
        r"WARNING sealer_fsm\.runtime: thread \d+: s-t01000-\d+ in \w+: temporary: .+; retry (\d+) of 8"
        r" at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in [\d.]+ s\)$"
    )
    retries = [match for line in err.splitlines() if (match := retry.search(line))]
    assert retries, err[-3000:]
    assert all(1 <= int(match.group(1)) <= 8 for match in retries)

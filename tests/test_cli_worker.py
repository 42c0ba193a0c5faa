"""`sealer-fsm worker ...` through the CLI entry point, against a real worker process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealer_fsm.cli import main
from tests.support.running_worker import RunningWorker, worker_process
from tests.test_control_rpc import SETTLED_OPTIONS, settled

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEALER_FSM_TOKEN", raising=False)
    monkeypatch.delenv("SEALER_FSM_HOST", raising=False)


@pytest.fixture
def worker(tmp_path: Path):
    with worker_process(tmp_path / "worker", *SETTLED_OPTIONS) as running:
        running.wait_for(settled)
        yield running


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_worker_list_shows_the_reference_columns(worker: RunningWorker, capsys) -> None:
    status, out, _ = run_cli(capsys, "worker", "list", "--host", worker.address)
    assert status == 0
    header, *rows = out.splitlines()
    reference_columns = ["#", "location", "Plan", "JobID", "JobState", "JobStage", "ThreadState", "LastErr"]
    assert header.split() == [*reference_columns, "Elapsed", "Retry"]
    assert len(rows) == 4
    assert "TicketAssigned" in rows[0] and "Paused(" in rows[0] and "permanent: test switch" in rows[0]
    assert "snapup" in rows[1] and "Running(" in rows[1]


def test_worker_list_json_from_the_host_environment(worker: RunningWorker, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SEALER_FSM_HOST", worker.address)
    status, out, _ = run_cli(capsys, "worker", "list", "--json")
    assert status == 0
    assert [thread["job_state"] for thread in json.loads(out)][:2] == ["TicketAssigned", "TreeDBuilt"]


def test_pause_resume_and_history_of_a_thread(worker: RunningWorker, capsys) -> None:
    host = ("--host", worker.address)
    assert run_cli(capsys, "worker", "pause", "-i", "2", *host)[1] == "thread 2: pause requested\n"
    assert "already paused, or a pause is already pending" in run_cli(capsys, "worker", "pause", "-i", "2", *host)[1]
    assert run_cli(capsys, "worker", "pause", "-i", "2", "--now", "--json", *host)[1].strip() == "true"
    worker.wait_for(lambda threads: threads[2]["thread_state"]["state"] == "Paused")
    status, out, _ = run_cli(
        capsys, "worker", "resume", "-i", "0", "-s", "TreeDBuilt", "--reason", "ticket expired", *host
    )
    assert (status, out) == (0, "thread 0: resumed into TreeDBuilt\n")
    worker.wait_for(lambda threads: threads[0]["thread_state"]["state"] == "Paused")
    status, out, _ = run_cli(capsys, "worker", "history", "-i", "0", *host)
    assert status == 0 and "SetState" in out and "operator: ticket expired" in out
    assert re.fullmatch(r"thread 0: task \d+ \(s-t01000-\d+, plan sealer\)", out.splitlines()[0])  # one line
    history = json.loads(run_cli(capsys, "worker", "history", "-i", "0", "--json", *host)[1])
    assert [entry["event"] for entry in history["entries"]].count("AssignTicket") == 2


def test_a_refused_state_names_the_valid_ones(worker: RunningWorker, capsys) -> None:
    status, out, err = run_cli(capsys, "worker", "resume", "-i", "0", "-s", "SnapEncoded", "--host", worker.address)
    assert status == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("sealer-fsm: state 'SnapEncoded' is not in plan 'sealer'; valid states: Empty, Allocated")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resume", "-i", "2"], "thread 2 is not paused"),
        (["pause", "-i", "9"], "thread #9 not found"),
        (["history", "-i", "-1"], "thread #-1 not found"),
    ],
)
def test_refusals_are_one_line_on_stderr(worker: RunningWorker, capsys, argv: list[str], message: str) -> None:
    status, _, err = run_cli(capsys, "worker", *argv, "--host", worker.address)
    assert status == 1 and err.count("\n") == 1 and message in err


def test_an_unreachable_worker_is_one_line(capsys) -> None:
    status, _, err = run_cli(capsys, "worker", "list", "--host", f"127.0.0.1:{unused_port()}")
    assert status == 1 and err.count("\n") == 1 and "connection refused" in err
    status, _, err = run_cli(capsys, "worker", "list", "--host", "nowhere")
    assert status == 1 and "address 'nowhere' is not HOST:PORT" in err


def test_a_worker_with_a_token_needs_it_in_the_environment(tmp_path: Path, capsys, monkeypatch) -> None:
    with worker_process(tmp_path / "worker", "--threads", "1", token="s3cret") as worker:
        status, _, err = run_cli(capsys, "worker", "list", "--host", worker.address)
        assert status == 1 and "HTTP 401" in err and err.count("\n") == 1
        monkeypatch.setenv("SEALER_FSM_TOKEN", "s3cret")
        assert run_cli(capsys, "worker", "list", "--host", worker.address)[0] == 0


def test_the_installed_command_lists_threads(worker: RunningWorker) -> None:
    environment = {**os.environ, "SEALER_FSM_HOST": worker.address}
    environment.pop("SEALER_FSM_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "sealer_fsm", "worker", "list", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 4


def test_a_refused_plan_edit_shows_in_worker_list(tmp_path: Path, capsys) -> None:
    plan = tmp_path / "my-sealer.yaml"
    plan.write_text((REPO / "plans" / "sealer.yaml").read_text())
    with worker_process(tmp_path / "worker", "--threads", "1", "--plan", str(plan)) as worker:
        worker.wait_for(lambda threads: threads[0]["job_id"] is not None)
        plan.write_text(plan.read_text().replace("on: {Allocate: Allocated}", "on: {Allocate: Alocated}"))
        os.utime(plan, (1, 1))  # a different modification time, however quick the edit
        with worker.client() as client:
            deadline = time.monotonic() + 20
            while not client.call("SealerFsm.Info")["plan_warnings"]:
                assert time.monotonic() < deadline, "the worker never re-read the plan"
                time.sleep(0.02)
        status, out, _ = run_cli(capsys, "worker", "list", "--host", worker.address)
        refused = f"plan edit refused: {plan} does not load; its threads keep the previous version: {plan}:12: event"
        assert status == 0 and refused in out
        assert "(and 1 more: `sealer-fsm plan check" in out
        status, out, err = run_cli(capsys, "worker", "list", "--host", worker.address, "--json")
        assert status == 0 and json.loads(out)[0]["index"] == 0 and refused in err

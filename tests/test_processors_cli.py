"""An operator's view of `[processors]`: `sealer-fsm run` with an external PC1 processor, `worker list` and
/metrics saying what waiting threads wait for, and `sealer-fsm processor` refusing what it cannot serve."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _devnet_helpers import devnet_machine

from sealer_fsm.cli import main
from sealer_fsm.control import ControlClient
from tests.test_cli_run_control import free_port, wait_for_server

REPO = Path(__file__).resolve().parents[1]
HELD = Path(__file__).resolve().parent / "support" / "held_processor.py"
DEADLINE = 60.0  # a guard against a hang, never a measurement


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEALER_FSM_TOKEN", raising=False)
    monkeypatch.delenv("SEALER_FSM_HOST", raising=False)


def queued_behind_one(threads: list[dict]) -> bool:
    """One thread runs PC1 in the child; the two others wait for its slot."""
    waiting = sum(info["waiting_for"] == "pc1 slot (1/1 busy)" for info in threads)
    return waiting == 2 and any(info["thread_state"]["state"] == "Running" for info in threads)


def test_worker_list_and_metrics_say_what_the_threads_wait_for(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    processors = (
        "[processors.limitation.concurrent]\npc1 = 1\n"
        f'[[processors.pc1]]\nbin = "{sys.executable}"\nargs = ["{HELD}", "pc1"]\n'
        f'envs = {{ HELD_GATE = "{gate}", HELD_ALL = "1" }}\n'
    )
    machine = devnet_machine(tmp_path, ["sealer"] * 3, devnet={"ticket_expiry_epochs": 1_000_000}, extra=processors)
    port = free_port()
    command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(tmp_path / "home")]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        client = ControlClient(f"127.0.0.1:{port}")
        wait_for_server(client, time.monotonic() + DEADLINE)
        deadline = time.monotonic() + DEADLINE
        while not queued_behind_one(client.call("VenusWorker.WorkerList")):
            assert time.monotonic() < deadline, "the threads never queued for the pc1 slot"
            time.sleep(0.05)
        assert main(["worker", "list", "--host", f"127.0.0.1:{port}"]) == 0
        listing = capsys.readouterr().out
        assert listing.count("for pc1 slot (1/1 busy)") == 2 and "Waiting(" in listing
        assert main(["worker", "list", "--json", "--host", f"127.0.0.1:{port}"]) == 0
        running = [info for info in json.loads(capsys.readouterr().out) if info["thread_state"]["state"] == "Running"]
        assert len(running) == 1 and running[0]["thread_state"]["proc"].startswith("ext(pid: ")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'sealer_fsm_processor_busy{stage="pc1"} 1.0' in metrics
        assert 'sealer_fsm_processor_queued{stage="pc1"} 2.0' in metrics
        assert 'sealer_fsm_processor_children{stage="pc1",state="ready"} 1.0' in metrics
        gate.unlink()
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, errors.decode()
    assert "Traceback" not in errors.decode()


def test_a_bad_processors_section_stops_run_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    machine = devnet_machine(tmp_path, ["sealer"], extra='[[processors.pc2]]\nlocks = ["gpu"]\n')
    assert main(["run", "-c", str(machine), "--home", str(tmp_path / "home")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "[[processors.pc2]] #0 locks: unknown lock 'gpu'" in error


def test_the_processor_command_serves_only_a_worker_over_a_pipe() -> None:
    by_hand = subprocess.run(
        [sys.executable, "-m", "sealer_fsm", "processor", "pc1"], stdin=subprocess.DEVNULL, capture_output=True
    )
    assert by_hand.returncode == 2
    refusal = "sealer-fsm processor pc1: stdin must be a pipe from the worker that starts it\n"
    assert by_hand.stderr.decode() == refusal
    unknown = subprocess.run([sys.executable, "-m", "sealer_fsm", "processor", "tree_d"], capture_output=True)
    assert unknown.returncode == 2 and "invalid choice: 'tree_d'" in unknown.stderr.decode()


def _gone(pid: int) -> bool:
    """The process exited (a zombie nobody reaped counts as exited)."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_a_child_stops_when_its_worker_is_killed_and_a_new_worker_runs_the_step_again(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    processors = (
        f'[[processors.pc1]]\nbin = "{sys.executable}"\nargs = ["{HELD}", "pc1"]\n'
        f'envs = {{ HELD_GATE = "{gate}", HELD_ALL = "1", SEALER_FSM_PROCESSOR_TRACE = "{trace}" }}\n'
    )
    machine = devnet_machine(tmp_path, ["sealer"], devnet={"ticket_expiry_epochs": 1_000_000}, extra=processors)
    command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(tmp_path / "home")]
    worker = subprocess.Popen([*command, "--listen", "127.0.0.1:0"], cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE
    while not trace.exists():
        assert time.monotonic() < deadline, "PC1 never started in the child"
        time.sleep(0.05)
    child = json.loads(trace.read_text().splitlines()[0])["pid"]
    worker.kill()  # SIGKILL: the worker cannot stop its child; the child sees its stdin close
    worker.wait(timeout=DEADLINE)
    while not _gone(child):
        assert time.monotonic() < deadline, f"the pc1 child {child} outlived its killed worker"
        time.sleep(0.05)
    gate.unlink()
    again = subprocess.run(
        [*command, "--listen", "127.0.0.1:0", "--sectors", "1"], cwd=REPO, capture_output=True, timeout=DEADLINE
    )
    assert again.returncode == 0, again.stderr.decode()
    starts = [json.loads(line) for line in trace.read_text().splitlines() if '"start"' in line]
    assert len(starts) >= 2 and starts[1]["pid"] != child  # (a second sector may start before the worker exits)

"""`sealer-fsm run` serves the control RPC and /metrics while it seals, as an operator reaches them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _devnet_helpers import devnet_machine

from sealer_fsm.cli import main
from sealer_fsm.control import ControlClient, ControlClientError

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(client: ControlClient, deadline: float) -> list[dict]:
    while True:
        try:
            return client.call("VenusWorker.WorkerList")
        except ControlClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_run_serves_worker_list_and_metrics_then_drains_on_sigterm(tmp_path):
    machine = devnet_machine(tmp_path, ["sealer", "snapup"])
    port = free_port()
    command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(tmp_path / "home")]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        client = ControlClient(f"127.0.0.1:{port}")
        threads = wait_for_server(client, time.monotonic() + 30)
        assert [(thread["index"], thread["plan"]) for thread in threads] == [(0, "sealer"), (1, "snapup")]
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                metrics = response.read().decode()
            if 'sealer_fsm_manager_calls_total{method="allocate_sector"}' in metrics:
                break
            assert time.monotonic() < deadline, "no manager call was counted"
            time.sleep(0.1)
        assert "sealer_fsm_step_duration_seconds_bucket" in metrics and "sealer_fsm_threads{" in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors.decode()
    assert f"control RPC listening on 127.0.0.1:{port}" in errors.decode()
    assert "Traceback" not in errors.decode()


def test_a_busy_or_bad_listen_address_is_one_line(tmp_path, capsys):
    machine = devnet_machine(tmp_path, ["sealer"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["run", "-c", str(machine), "--home", str(tmp_path / "h"), "--listen", f"127.0.0.1:{port}"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in error
    assert main(["run", "-c", str(machine), "--home", str(tmp_path / "h"), "--listen", "nowhere"]) == 1
    assert "address 'nowhere' is not HOST:PORT" in capsys.readouterr().err


def test_run_with_tui_needs_a_terminal(tmp_path, capsys):
    machine = devnet_machine(tmp_path, ["sealer"])
    assert main(["run", "-c", str(machine), "--home", str(tmp_path / "h"), "--listen", "127.0.0.1:0", "--tui"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "needs an interactive terminal" in error


def test_a_second_worker_on_the_same_home_is_refused(tmp_path, capsys):
    machine = devnet_machine(tmp_path, ["sealer"])
    home = tmp_path / "home"
    port = free_port()
    command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(home)]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_server(ControlClient(f"127.0.0.1:{port}"), time.monotonic() + 30)
        assert main(["run", "-c", str(machine), "--home", str(home), "--listen", "127.0.0.1:0"]) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1
        assert f"another worker (pid {process.pid}) is running with home {home}" in error
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert process.returncode == 0

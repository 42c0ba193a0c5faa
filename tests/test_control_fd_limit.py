"""Holding connections never starves the sealing threads: 1,100 idle connections against a real worker whose
descriptor limit is 1,024, while its threads seal real 2KiB sectors (files, SQLite, the devnet)."""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _devnet_helpers import devnet_machine

from sealer_fsm.cli import main
from sealer_fsm.control import ControlClient
from sealer_fsm.rpc import DEFAULT_MAX_CONNECTIONS
from tests.test_cli_run_control import free_port, wait_for_server

REPO = Path(__file__).resolve().parents[1]
FD_LIMIT = 1024
IDLE_CONNECTIONS = 1100
MORE_SECTORS = 6


def lower_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def finished_sectors(home: Path, capsys: pytest.CaptureFixture[str]) -> int:
    assert main(["sectors", "list", "--home", str(home), "--json"]) == 0
    return sum(row["state"] == "Finished" for row in json.loads(capsys.readouterr().out))


def refused_by_server(sock: socket.socket) -> bool:
    """Whether the server answered this idle connection (a 503) rather than holding it open."""
    sock.settimeout(0)
    try:
        return sock.recv(4096, socket.MSG_PEEK).startswith(b"HTTP/1.1 503 ")
    except BlockingIOError:
        return False


def test_idle_connections_past_the_fd_limit_never_pause_a_sealing_thread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE_CONNECTIONS + 200:
        pytest.skip(f"needs {IDLE_CONNECTIONS + 200} descriptors in the test process (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, IDLE_CONNECTIONS + 200), hard))
    machine = devnet_machine(tmp_path, ["sealer", "sealer"])
    home, port = tmp_path / "home", free_port()
    command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(home)]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lower_fd_limit,
    )
    held: list[socket.socket] = []
    try:
        wait_for_server(ControlClient(f"127.0.0.1:{port}"), time.monotonic() + 30)
        held = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(IDLE_CONNECTIONS)]
        # While every connection is still held, the threads go on sealing: files, SQLite, the devnet.
        target = finished_sectors(home, capsys) + MORE_SECTORS
        deadline = time.monotonic() + 120
        while finished_sectors(home, capsys) < target:
            assert process.poll() is None and time.monotonic() < deadline, "sealing stopped while connections were held"
            time.sleep(0.2)
        refused = sum(refused_by_server(sock) for sock in held)
        for sock in held:
            sock.close()
        threads = wait_for_server(ControlClient(f"127.0.0.1:{port}"), time.monotonic() + 30)
    finally:
        for sock in held:
            sock.close()
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    log = errors.decode()
    assert process.returncode == 0, log
    assert refused == IDLE_CONNECTIONS - DEFAULT_MAX_CONNECTIONS  # held: the cap, well under the descriptor limit
    assert all(thread["thread_state"]["state"] != "Paused" and not thread["last_error"] for thread in threads)
    assert "Too many open files" not in log and "Traceback" not in log and "paused" not in log
    assert 1 <= log.count("refusing connections beyond the cap") <= 30  # said once per interval, not per refusal

"""A real full disk under a running `sealer-fsm run` (root only: the home is a small tmpfs we fill): the threads
pause with the file and its free space, the control RPC keeps answering, the threads go on once space is back,
SIGTERM exits 0, and no traceback is printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _devnet_helpers import devnet_machine

from sealer_fsm.control import ControlClient
from tests.conftest import REPO

HANG_GUARD = 120


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


class Stderr:
    """Collects a process's stderr in the background; `wait_for` finds a pattern in it."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.text += line

    def wait_for(self, pattern: str) -> re.Match:
        deadline = time.monotonic() + HANG_GUARD
        while (found := re.search(pattern, self.text)) is None:
            assert time.monotonic() < deadline, f"never logged {pattern!r}:\n{self.text[-3000:]}"
            time.sleep(0.02)
        return found


def fill(disk: Path) -> Path:
    """Write a file until the file system is full."""
    filler = disk / "filler"
    with filler.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 20))
                file.flush()
        except OSError:
            pass
    return filler


def wait_threads(client: ControlClient, condition, what: str) -> list[dict]:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        threads = client.call("VenusWorker.WorkerList")
        if condition(threads):
            return threads
        assert time.monotonic() < deadline, f"{what}: {threads}"
        time.sleep(0.05)


def test_a_full_disk_pauses_threads_the_worker_keeps_answering_and_they_resume(tmp_path, small_disk):
    machine = devnet_machine(tmp_path, ["sealer", "sealer"], sealing="max_retries = 100000")
    home = small_disk / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(home), "--listen", ":0"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = Stderr(process)
    try:
        address = stderr.wait_for(r"control RPC listening on (\S+)")[1]
        client = ControlClient(address)
        wait_threads(client, lambda threads: all(t["job_id"] for t in threads), "no thread got a sector")
        filler = fill(small_disk)
        full = wait_threads(
            client,
            lambda threads: any(t["paused"] and "free on its file system" in (t["last_error"] or "") for t in threads),
            "no thread paused for the full disk",
        )
        paused = next(t for t in full if t["paused"])
        assert "sealer-fsm.db" in paused["last_error"] and paused["paused_by"] == "worker"
        assert client.call("SealerFsm.Info")["threads"] == 2  # still answering
        finished_before = stderr.text.count("closed in Finished")
        filler.unlink()
        wait_threads(client, lambda threads: not any(t["paused"] for t in threads), "the threads did not resume")
        deadline = time.monotonic() + HANG_GUARD
        while stderr.text.count("closed in Finished") <= finished_before:
            assert time.monotonic() < deadline, "no sector finished after the disk had space again"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=HANG_GUARD) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in stderr.text, stderr.text[-5000:]
    assert "the store accepts writes again" in stderr.text

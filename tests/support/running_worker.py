"""Start tests/support/worker_process.py as a subprocess, wait until it listens, and always stop it."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.control import ControlClient

LAUNCHER = Path(__file__).resolve().parent / "worker_process.py"
START_DEADLINE_SECONDS = 30.0


@dataclass
class RunningWorker:
    process: subprocess.Popen[str]
    port: int
    home: Path
    token: str | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, token: str | None = None) -> ControlClient:
        return ControlClient(self.address, token=token or self.token)

    def wait_for(self, condition: Callable[[list[dict]], bool], timeout: float = 20.0) -> list[dict]:
        """Poll WorkerList until `condition(threads)` holds; returns the threads that satisfied it."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                threads = client.call("VenusWorker.WorkerList")
                if condition(threads):
                    return threads
                if time.monotonic() > deadline:
                    raise AssertionError(f"condition not reached; first threads: {threads[:4]}")
                time.sleep(0.01)


def _read_port(process: subprocess.Popen[str], log: Path) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if line.startswith("LISTENING "):
                    return int(line.split()[1])
                if not line:
                    break
    raise AssertionError(f"the worker process did not start:\n{log.read_text()}")


@contextmanager
def worker_process(home: Path, *options: str, token: str | None = None) -> Iterator[RunningWorker]:
    """A worker process on a free port, killed on exit; `options` are worker_process.py's switches."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "worker.log"
    command = [sys.executable, str(LAUNCHER), "--home", str(home), "--port", "0", *options]
    if token:
        command += ["--token", token]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        yield RunningWorker(process, _read_port(process, log), home, token)
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

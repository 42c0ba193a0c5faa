"""A sealing cluster on one machine, for tests and benches: one `sealer-fsm devnet serve` process and N
`sealer-fsm run` worker processes pointing at it, sharing two persist stores, each with its own home."""

from __future__ import annotations

import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STORES = ("store-a", "store-b")
START_DEADLINE_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_manager_file(root: Path, port: int, chain: dict[str, str] | None = None) -> Path:
    """The manager's side: the devnet chain, the shared stores it checks persisted files in, where it listens."""
    settings = {"sector_size": '"2KiB"', "block_time": '"10ms"', "precommit_epochs": "2", "seed_epochs": "2",
                "proof_epochs": "2", "seed": "7", **(chain or {})}  # fmt: skip
    lines = []
    for store in STORES:
        lines += ["[[attached]]", f'name = "{store}"', f'location = "{root / store}"']
    lines += ["[sector_manager.devnet]", *(f"{key} = {value}" for key, value in settings.items())]
    lines += ["[devnet_server]", f'listen = "127.0.0.1:{port}"']
    path = root / "manager.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_worker_file(root: Path, name: str, port: int, threads: int = 2, extra: str = "") -> Path:
    """One sealing host: `threads` sealer threads against the manager at `port`, the shared stores attached."""
    lines = [
        "[worker]",
        f'name = "{name}"',
        'drain_timeout = "5s"',
        'ping_interval = "100ms"',
        "[sealing]",
        "enable_deals = true",
        "max_retries = 3",
        'seal_interval = "0s"',
        'recover_interval = "20ms"',
        'rpc_polling_interval = "20ms"',
    ]
    for index in range(threads):
        lines += ["[[sealing_thread]]", f'location = "threads/{index}"']
    for store in STORES:
        lines += ["[[attached]]", f'name = "{store}"', f'location = "{root / store}"']
    lines += [
        "[sector_manager]",
        f'rpc_client.addr = "/ip4/127.0.0.1/tcp/{port}"',
        'rpc_client.timeout = "10s"',
        'rpc_client.retry_for = "90s"',
    ]
    path = root / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _wait_for_line(process: subprocess.Popen[str], prefix: str, log: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if line.startswith(prefix):
                    return line
                if not line:
                    break
    raise AssertionError(f"{process.args} did not print {prefix!r}:\n{log.read_text()}")


@dataclass
class DevnetProcess:
    """`sealer-fsm devnet serve`, which a test may kill -9 and start again on the same home and port."""

    manager_file: Path
    home: Path
    port: int
    process: subprocess.Popen[str] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.home / "devnet.db"

    def start(self) -> None:
        self.starts += 1
        log = self.home.parent / f"devnet-{self.starts}.log"
        command = [sys.executable, "-m", "sealer_fsm", "devnet", "serve", "-c", str(self.manager_file),
                   "--home", str(self.home), "--listen", self.address]  # fmt: skip
        with log.open("w") as stderr:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
        _wait_for_line(self.process, "devnet listening on", log)

    def kill(self) -> None:
        """kill -9: no chance to finish a request or a write."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def sectors(self) -> list[sqlite3.Row]:
        """The chain's sectors, read beside the running server (the database is in WAL mode)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            return db.execute("SELECT number, status, persisted, abort_reason FROM sectors ORDER BY number").fetchall()

    def accepted_submissions(self) -> Counter[tuple[int, str]]:
        """How many submissions of each (sector number, kind) the chain accepted."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
            rows = db.execute("SELECT sector, kind FROM submissions WHERE result = 'ACCEPTED'").fetchall()
        return Counter((sector, kind) for sector, kind in rows)

    def finalized(self) -> int:
        return sum(1 for row in self.sectors() if row["status"] == "finalized")


@dataclass
class WorkerProcess:
    name: str
    machine_file: Path
    home: Path
    process: subprocess.Popen[str] | None = None
    control: str = ""
    log: Path = field(default_factory=Path)

    def start(self) -> None:
        self.log = self.home.parent / f"{self.name}.log"
        command = [sys.executable, "-m", "sealer_fsm", "run", "-c", str(self.machine_file), "--home", str(self.home),
                   "--listen", "127.0.0.1:0"]  # fmt: skip
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while "control RPC listening on " not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.log.read_text()}"
            time.sleep(0.05)
        self.control = self.log.read_text().split("control RPC listening on ", 1)[1].split()[0]

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


def wait_until(condition: Callable[[], bool], what: str, timeout: float, alive: Callable[[], None]) -> None:
    """Poll `condition` (checking with `alive` that every process still runs) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)

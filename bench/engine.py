"""Engine benchmark: durable transitions through the runtime vs raw SQLite commits; 1,000 idle threads.

Prints, measured in one run on this machine:
  - durable transitions/s through the whole runtime (no-op steps walking the sealer plan), and the raw SQLite
    commit rate of the same write (task UPDATE + history INSERT in one transaction, same pragmas); their ratio
    (target >= 0.5);
  - RSS and CPU use of a worker process holding 1,000 idle sealing threads, each asking for work every 10 s
    (targets: < 250 MB, < 2% of a core).
Run: python bench/engine.py   (make bench runs it)
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sealer_fsm.config import load_machine_file  # noqa: E402
from sealer_fsm.plans import load_plan  # noqa: E402
from sealer_fsm.registry import StepRegistry  # noqa: E402
from sealer_fsm.runtime import IDLE, Outcome, Worker, WorkerListener  # noqa: E402
from sealer_fsm.store import TaskStore  # noqa: E402

MEASURE_SECONDS = 3.0
IDLE_THREADS = 1000
# How often an idle thread asks the manager for work: a sixth of the reference's default recover_interval (60 s).
IDLE_POLL = 10.0
SEALER_PLAN = load_plan(REPO / "plans" / "sealer.yaml", None)
STEP_NAMES = [spec.step for spec in SEALER_PLAN.states.values() if spec.step] + [SEALER_PLAN.on_abort]


def write_machine(directory: Path, threads: int, recover_interval: str) -> Path:
    lines = [
        '[worker]\nname = "bench"\ndrain_timeout = "1s"',
        f'[sealing]\nseal_interval = "0s"\nrecover_interval = "{recover_interval}"',
    ]
    lines += [f'[[sealing_thread]]\nlocation = "t{index}"\nplan = "sealer"' for index in range(threads)]
    lines.append('[[attached]]\nlocation = "store"')  # a worker needs one persist store
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "machine.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def forward_step(ctx):
    spec = ctx.plan.state(ctx.state)
    if not spec.on:
        return None
    return Outcome(list(spec.on)[-1], {"sector_id": ctx.data.get("sector_id", "s-t01000-1")})


class _Counter(WorkerListener):
    def __init__(self) -> None:
        self.transitions = 0

    def state_changed(self, thread, source, event, destination) -> None:
        self.transitions += 1


def runtime_rate(directory: Path) -> float:
    registry = StepRegistry(dict.fromkeys(STEP_NAMES, forward_step))
    worker = Worker(load_machine_file(write_machine(directory, 1, "0s"), home=directory / "home"), registry)
    counter = _Counter()
    worker.add_listener(counter)

    async def measure() -> float:
        runner = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)  # warm up
        start_count, start = counter.transitions, time.perf_counter()
        await asyncio.sleep(MEASURE_SECONDS)
        rate = (counter.transitions - start_count) / (time.perf_counter() - start)
        worker.drain()
        await runner
        return rate

    return asyncio.run(measure())


def raw_sqlite_rate(directory: Path) -> float:
    """The same durable write without the runtime: task UPDATE + history INSERT, one transaction each."""
    store = TaskStore(directory / "raw.db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "A", 0.0)
    db = sqlite3.connect(directory / "raw.db", isolation_level=None)
    db.execute("PRAGMA synchronous = FULL")
    states = ("A", "B")
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < MEASURE_SECONDS:
        source, destination = states[count % 2], states[(count + 1) % 2]
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE tasks SET state = ?, prev_state = ?, retry = 0, paused = 0, last_error = NULL, sector = ?,"
            " data = ?, state_since = ? WHERE id = ? AND state = ? AND closed_at IS NULL",
            (destination, source, "s-t01000-1", json.dumps({"sector_id": "s-t01000-1"}), time.time(), task.id, source),
        )
        db.execute(
            "INSERT INTO history (task_id, at, from_state, event, to_state, failure, actor, reason, payload)"
            " VALUES (?, ?, ?, ?, ?, NULL, 'step', NULL, ?)",
            (task.id, time.time(), source, "Go", destination, '{"sector_id": "s-t01000-1"}'),
        )
        db.execute("COMMIT")
        count += 1
    return count / (time.perf_counter() - start)


def idle_child(machine: str, home: str) -> None:
    async def nothing_to_do(ctx):
        return IDLE

    registry = StepRegistry(dict.fromkeys(STEP_NAMES, nothing_to_do))
    worker = Worker(load_machine_file(machine, home=home), registry)
    asyncio.run(worker.run())


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_threads(directory: Path) -> tuple[float, float]:
    """RSS and CPU share of a worker whose threads all wait for work, asking every IDLE_POLL seconds."""
    machine = write_machine(directory, IDLE_THREADS, f"{IDLE_POLL:g}s")
    home = directory / "idle-home"
    child = subprocess.Popen([sys.executable, __file__, "--idle-child", str(machine), str(home)])
    try:
        _wait_for_tasks(home / "sealer-fsm.db", IDLE_THREADS, deadline=time.monotonic() + 60)
        time.sleep(IDLE_POLL)  # every thread has reached its first wait
        cpu_before, start = _cpu_seconds(child.pid), time.perf_counter()
        time.sleep(2 * IDLE_POLL)
        cpu_share = (_cpu_seconds(child.pid) - cpu_before) / (time.perf_counter() - start)
        return _rss_mb(child.pid), cpu_share
    finally:
        child.terminate()
        child.wait(timeout=30)


def _wait_for_tasks(database: Path, count: int, deadline: float) -> None:
    """Start-up is over once every thread has its task row."""
    while time.monotonic() < deadline:
        if database.exists():
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
                    if db.execute("SELECT count(*) FROM tasks").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass  # the worker is still creating its tables
        time.sleep(0.2)
    raise RuntimeError(f"the idle worker did not create {count} tasks in time")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        runtime = runtime_rate(root / "runtime")
        raw = raw_sqlite_rate(root)
        rss, cpu = idle_threads(root)
    print(f"durable transitions/s through the runtime : {runtime:10.0f}")
    print(f"raw SQLite commits/s (same write)         : {raw:10.0f}")
    print(f"ratio runtime/raw                          : {runtime / raw:10.2f}   (target >= 0.5)")
    print(f"RSS with {IDLE_THREADS} idle threads                : {rss:10.1f} MB (target < 250 MB)")
    print(
        f"CPU with {IDLE_THREADS} idle threads                : {cpu * 100:10.2f} % of one core (target < 2%),"
        f" each asking for work every {IDLE_POLL:g} s: {cpu / (IDLE_THREADS / IDLE_POLL) * 1e6:.0f} µs a poll"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--idle-child":
        idle_child(sys.argv[2], sys.argv[3])
    else:
        main()

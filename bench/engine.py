"""Engine benchmark: durable transitions through the runtime vs raw SQLite commits; event-loop stalls; idle threads.

Prints, measured in one run on this machine:
  - durable transitions/s through the whole runtime with one thread (no-op steps walking the sealer plan) and the
    raw SQLite commit rate of the same write (task UPDATE + history INSERT in one transaction, same pragmas, one
    commit each); their ratio (target >= 0.5);
  - the same with 64 busy threads: the store's writer commits concurrent changes together (group commit), so the
    durable transitions/s can exceed the single-commit rate (target >= 2x), and the longest event-loop stall
    meanwhile (target < 10 ms): commits never run on the loop;
  - the longest event-loop stall of a worker sealing 2KiB sectors with the built-in steps against the devnet
    (whose SQLite and deal data run on its own thread);
  - RSS and CPU use of a worker process holding 1,000 idle sealing threads, each asking for work every 10 s
    (targets: < 250 MB, < 2% of a core).
Figures measured while other work shares the machine are noisy; the ratios compare runs of this same process.
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

from sealer_fsm.assembly import build_worker  # noqa: E402
from sealer_fsm.config import load_machine_file  # noqa: E402
from sealer_fsm.plans import load_plan  # noqa: E402
from sealer_fsm.registry import StepRegistry  # noqa: E402
from sealer_fsm.runtime import IDLE, Outcome, Worker, WorkerListener  # noqa: E402
from sealer_fsm.store import TaskStore  # noqa: E402

MEASURE_SECONDS = 3.0
BUSY_THREADS = 64
DEVNET_THREADS = 16
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


class LoopWatch:
    """The longest time the event loop took to come back to a coroutine that asked to sleep 1 ms (`worst`), and the
    most CPU time the loop's thread spent meanwhile (`worst_cpu`): on a machine shared with other work the wall
    stall also counts time the thread waited for a core, the CPU time only the loop's own work."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self._running = True

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running:
            start, start_cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, loop.time() - start - 0.001)
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - start_cpu)

    def stop(self) -> None:
        self._running = False


async def measure_running(worker: Worker, counter: _Counter) -> tuple[float, LoopWatch]:
    """(transitions/s, the loop's longest stalls) over MEASURE_SECONDS, after a warm-up."""
    runner = asyncio.create_task(worker.run())
    # Warm up until every thread has made some transitions: start-up (loading, one machine per thread) is not
    # the steady state measured here.
    warm = 4 * len(worker.threads())
    while counter.transitions < warm:
        await asyncio.sleep(0.01)
    watch = LoopWatch()
    watcher = asyncio.create_task(watch.watch())
    start_count, start = counter.transitions, time.perf_counter()
    await asyncio.sleep(MEASURE_SECONDS)
    rate = (counter.transitions - start_count) / (time.perf_counter() - start)
    watch.stop()
    await watcher
    worker.drain()
    await runner
    return rate, watch


def runtime_rate(directory: Path, threads: int) -> tuple[float, LoopWatch, float]:
    """(durable transitions/s, the loop's longest stalls, transitions per commit) with `threads` busy threads."""
    registry = StepRegistry(dict.fromkeys(STEP_NAMES, forward_step))
    worker = Worker(load_machine_file(write_machine(directory, threads, "0s"), home=directory / "home"), registry)
    counter = _Counter()
    worker.add_listener(counter)
    commits_before = worker.store.commits
    rate, stall = asyncio.run(measure_running(worker, counter))
    per_commit = counter.transitions / max(1, worker.store.commits - commits_before)
    worker.close()
    return rate, stall, per_commit


def devnet_stall(directory: Path, threads: int) -> tuple[float, LoopWatch]:
    """(sectors finished/s, the loop's longest stalls) of a worker sealing 2KiB sectors against the devnet."""
    directory.mkdir(parents=True, exist_ok=True)
    machine = directory / "devnet.toml"
    machine.write_text(
        '[worker]\nname = "bench-devnet"\ndrain_timeout = "5s"\n'
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "0.05s"\nrpc_polling_interval = "0.01s"\n'
        + "".join(f'[[sealing_thread]]\nlocation = "t{index}"\nplan = "sealer"\n' for index in range(threads))
        + '[[attached]]\nname = "store"\nlocation = "store"\n'
        '[sector_manager.devnet]\nblock_time = "10ms"\nprecommit_epochs = 1\nseed_epochs = 1\nproof_epochs = 1\n'
    )
    worker = build_worker(load_machine_file(machine, home=directory / "home"))
    counter = _Counter()
    worker.add_listener(counter)
    _, stall = asyncio.run(measure_running(worker, counter))
    finished = sum(1 for task in worker.store.tasks() if task.state == "Finished")
    worker.close()
    return finished / (MEASURE_SECONDS + 0.5), stall


def raw_sqlite_rate(directory: Path) -> float:
    """The same durable write without the runtime: task UPDATE + history INSERT, one transaction each."""
    store = TaskStore(directory / "raw.db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "A", 0.0).wait()
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
        runtime, _, _ = runtime_rate(root / "runtime", 1)
        raw = raw_sqlite_rate(root)
        busy, stall, per_commit = runtime_rate(root / "busy", BUSY_THREADS)
        sectors, devnet_worst = devnet_stall(root / "devnet", DEVNET_THREADS)
        rss, cpu = idle_threads(root)
    print(f"durable transitions/s through the runtime : {runtime:10.0f}   (1 thread)")
    print(f"raw SQLite commits/s (same write)         : {raw:10.0f}   (one commit each)")
    print(f"ratio runtime/raw                          : {runtime / raw:10.2f}   (target >= 0.5)")
    print(
        f"durable transitions/s, {BUSY_THREADS} busy threads      : {busy:10.0f}"
        f"   ({per_commit:.1f} transitions a commit)"
    )
    print(f"group-commit ratio ({BUSY_THREADS} threads)/raw        : {busy / raw:10.2f}   (target >= 2)")
    print(
        f"longest event-loop stall, {BUSY_THREADS} busy threads : {stall.worst * 1000:10.1f} ms (target < 10 ms),"
        f" the loop's own CPU in it at most {stall.worst_cpu * 1000:.1f} ms"
    )
    print(
        f"longest event-loop stall, devnet sealing    : {devnet_worst.worst * 1000:10.1f} ms,"
        f" the loop's own CPU in it at most {devnet_worst.worst_cpu * 1000:.1f} ms"
        f" ({DEVNET_THREADS} threads, 2KiB sectors, {sectors:.1f} sectors/s)"
    )
    print(f"load average while measuring               : {os.getloadavg()[0]:10.2f}   on {os.cpu_count()} cores")
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

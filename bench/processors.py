"""Processors benchmark: the external-processor protocol's cost per call, and sealing under stage limits.

Prints, measured in one run on this machine:
  - the protocol's overhead per call: a trivial stage (a transfer with no routes) called in-process and through
    one external child (`sealer-fsm processor transfer`), one call at a time and 32 at once; the difference is
    what the JSON lines, the pipes and the child's thread cost per call;
  - 4 sealing threads sealing 8MiB sectors against the devnet with `pc1 = 2`, `pc2 = 1`, first with every stage
    in-process, then with PC1 and PC2 in external children: sectors per hour (timed from when the children are
    ready: their start-up happens once per worker), and the share of the cores this
    process may use that the worker and its children kept busy while a PC1 or PC2 ran (target >= 90 %), with
    the ratio external / in-process.
The machine is shared: absolute figures move with the other load on it. So each sealing run is preceded by a
baseline, one spinning process per core for a moment, and the busy share is also given relative to the share
those spinners got (what the other load left to take); the ratios compare runs made back to back.
Run: python bench/processors.py [--sectors N]   (make bench runs it)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sealer_fsm.assembly import build_worker  # noqa: E402
from sealer_fsm.config import load_machine_file  # noqa: E402
from sealer_fsm.processors import Processors  # noqa: E402
from sealer_fsm.runtime import ThreadState, Worker, WorkerListener  # noqa: E402
from sealer_fsm.steps.stages import builtin_stage  # noqa: E402

THREADS = 4
SEQUENTIAL_CALLS = 300
CONCURRENT_CALLS = 32
CONCURRENT_ROUNDS = 20
SAMPLE_SECONDS = 0.1
BUSY_TARGET = 0.90
TRIVIAL_TASK = {"stores": {}, "routes": []}
# The states whose step runs PC1 or PC2 in the sealer plan.
PC_STATES = ("TicketAssigned", "PC1Done")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
SPIN_SECONDS = 2.0


# -- the protocol's overhead ----------------------------------------------------------------------------------


async def _call_rates(processors: Processors) -> tuple[float, float]:
    """Seconds per call, one at a time and CONCURRENT_CALLS at once."""
    for _ in range(20):  # warm up (and wait for the child's handshake)
        await processors.run("transfer", TRIVIAL_TASK)
    start = time.perf_counter()
    for _ in range(SEQUENTIAL_CALLS):
        await processors.run("transfer", TRIVIAL_TASK)
    sequential = (time.perf_counter() - start) / SEQUENTIAL_CALLS
    start = time.perf_counter()
    for _ in range(CONCURRENT_ROUNDS):
        await asyncio.gather(*(processors.run("transfer", TRIVIAL_TASK) for _ in range(CONCURRENT_CALLS)))
    concurrent = (time.perf_counter() - start) / (CONCURRENT_ROUNDS * CONCURRENT_CALLS)
    return sequential, concurrent


def protocol_overhead(directory: Path) -> None:
    machine = directory / "overhead.toml"
    machine.write_text('[[sealing_thread]]\nlocation = "t"\n[[attached]]\nlocation = "s"\n[[processors.transfer]]\n')
    external_config = load_machine_file(machine, directory / "overhead-home").processors

    async def measure() -> tuple[tuple[float, float], tuple[float, float]]:
        in_process = await _call_rates(Processors(builtin=builtin_stage))
        async with Processors(external_config) as external:
            while not external.ready():
                await asyncio.sleep(0.05)
            return in_process, await _call_rates(external)

    (local_one, local_many), (child_one, child_many) = asyncio.run(measure())
    print("protocol overhead (a transfer with no routes):")
    for label, one, many in (("in-process", local_one, local_many), ("external child", child_one, child_many)):
        print(f"  {label:20} {one * 1e6:8.0f} us/call one at a time, {many * 1e6:8.0f} us/call 32 at once")
    print(
        f"  overhead per call    {(child_one - local_one) * 1e6:8.0f} us one at a time "
        f"({child_one / local_one:.1f}x in-process), {(child_many - local_many) * 1e6:8.0f} us 32 at once"
    )


# -- sealing under limits -------------------------------------------------------------------------------------


def _machine(directory: Path, external: bool) -> Path:
    lines = [
        '[worker]\nname = "bench"\ndrain_timeout = "5s"',
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "100ms"\nrpc_polling_interval = "20ms"',
    ]
    lines += [f'[[sealing_thread]]\nlocation = "t{index}"\nplan = "sealer"' for index in range(THREADS)]
    lines += ['[[attached]]\nname = "store"\nlocation = "store"']
    lines += [
        '[sector_manager]\nkind = "devnet"\n[sector_manager.devnet]\nsector_size = "8MiB"\nblock_time = "10ms"\n'
        "precommit_epochs = 2\nseed_epochs = 2\nproof_epochs = 2\nticket_expiry_epochs = 1000000"
    ]
    lines += ['[proofs]\nparent_cache_dir = "../parent-cache"']
    lines += ["[processors.limitation.concurrent]\npc1 = 2\npc2 = 1"]
    if external:
        lines += ["[[processors.pc1]]", "[[processors.pc2]]"]
    path = directory / ("external.toml" if external else "in-process.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


class _Finished(WorkerListener):
    def __init__(self, worker: Worker, sectors: int) -> None:
        self.worker, self.sectors, self.finished = worker, sectors, 0

    def task_closed(self, thread: Any, task: Any) -> None:
        if task.state == "Finished":
            self.finished += 1
            if self.finished == self.sectors:
                self.worker.drain()


def _cpu_ticks(pids: list[int]) -> int:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks


def _pids(worker: Worker) -> list[int]:
    children = [child.pid for stage in worker.processors.status() for child in stage.children if child.pid]
    return [os.getpid(), *children]


def obtainable_share() -> float:
    """The share of the usable cores that one spinning process per core gets right now (the baseline)."""
    cores = len(os.sched_getaffinity(0))
    spin = f"import time\nend = time.monotonic() + {SPIN_SECONDS}\nwhile time.monotonic() < end: pass"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(cores)]
    for spinner in spinners:
        spinner.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used / (wall * cores)


def seal(directory: Path, external: bool, sectors: int) -> tuple[float, float]:
    """Sectors per hour, and the busy share of the usable cores while a PC1 or PC2 ran."""
    home = directory / ("external-home" if external else "in-process-home")
    worker = build_worker(load_machine_file(_machine(directory, external), home))
    finished = _Finished(worker, sectors)
    worker.add_listener(finished)
    cores = len(os.sched_getaffinity(0))

    async def run() -> tuple[float, float]:
        runner = asyncio.ensure_future(worker.run())
        busy_ticks, busy_seconds = 0.0, 0.0
        while not worker.processors.ready():  # the children's start-up, once per worker, is not sealing
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        previous_ticks, previous_time = _cpu_ticks(_pids(worker)), time.perf_counter()
        while not runner.done():
            await asyncio.sleep(SAMPLE_SECONDS)
            pcs = any(info.state in PC_STATES and info.thread_state is ThreadState.RUNNING for info in worker.threads())
            ticks, now = _cpu_ticks(_pids(worker)), time.perf_counter()
            if pcs:
                busy_ticks += ticks - previous_ticks
                busy_seconds += now - previous_time
            previous_ticks, previous_time = ticks, now
        await runner
        wall = time.perf_counter() - start
        share = busy_ticks / CLOCK_TICK / (busy_seconds * cores) if busy_seconds else 0.0
        return finished.finished / wall * 3600, share

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sectors", type=int, default=12, help="sectors to seal in each configuration (default 12)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-processors-") as name:
        directory = Path(name)
        protocol_overhead(directory)
        print(f"sealing {args.sectors} 8MiB sectors with {THREADS} threads, pc1 = 2, pc2 = 1:")
        results = {}
        for external in (False, True):
            label = "external children" if external else "in-process"
            baseline = obtainable_share()
            rate, share = seal(directory, external, args.sectors)
            results[external] = (rate, share)
            relative = share / baseline
            verdict = "meets" if relative >= BUSY_TARGET else "misses"
            print(
                f"  {label:18} {rate:7.0f} sectors/hour; cores busy during PC1/PC2 {share:6.1%}, spinners got"
                f" {baseline:6.1%}: {relative:6.1%} of that ({verdict} the {BUSY_TARGET:.0%} target)"
            )
        (local_rate, local_share), (child_rate, child_share) = results[False], results[True]
        print(f"  external / in-process: {child_rate / local_rate:.2f}x sectors/hour,", end=" ")
        print(f"{child_share / local_share:.2f}x busy share")


if __name__ == "__main__":
    main()

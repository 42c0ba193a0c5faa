"""A worker sealing with `[processors]`: the stage limits, the staggered starts and a shared lock hold over real
child processes (by their own trace of what ran when), a waiting thread says what it waits for, and a child killed
mid-PC1, a `pause --now` and a drain reach the work in the child without ever running it twice at once."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import devnet_machine
from prometheus_client.parser import text_string_to_metric_families

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager.devnet._verify import EXTERNAL_PROOF
from sealer_fsm.metrics import WorkerMetrics
from sealer_fsm.processors import TRACE_ENV
from sealer_fsm.proofs import parse_c1_output, verify_porep
from sealer_fsm.runtime import ThreadState, Worker, WorkerListener
from tests.support.traces import Interval, max_overlap, read_intervals

SUPPORT = Path(__file__).resolve().parent / "support"
HELD = SUPPORT / "held_processor.py"
DEADLINE = 120.0  # a guard against a hang, never a measurement
LONG_TICKETS = {"ticket_expiry_epochs": 1_000_000}  # held stages must not outlive the devnet's tickets


def entry(stage: str, trace: Path, locks: tuple[str, ...] = (), **envs: str) -> str:
    table = ", ".join(f'{key} = "{value}"' for key, value in {TRACE_ENV: str(trace), **envs}.items())
    lock_list = ", ".join(f'"{lock}"' for lock in locks)
    return (
        f'[[processors.{stage}]]\nbin = "{sys.executable}"\nargs = ["{HELD}", "{stage}"]\n'
        f"locks = [{lock_list}]\nenvs = {{ {table} }}\n"
    )


class Finished(WorkerListener):
    """Drains the worker once `count` tasks reached Finished."""

    def __init__(self, worker: Worker, count: int) -> None:
        self.worker, self.count, self.closed = worker, count, 0

    def task_closed(self, thread: Any, task: Any) -> None:
        if task.state == "Finished":
            self.closed += 1
            if self.closed >= self.count:
                self.worker.drain()


def worker_for(tmp_path: Path, threads: int, processors: str, finish: int | None = None) -> Worker:
    machine = devnet_machine(tmp_path, ["sealer"] * threads, devnet=LONG_TICKETS, extra=processors)
    worker = build_worker(load_machine_file(machine, tmp_path / "home"))
    worker.add_listener(Finished(worker, threads if finish is None else finish))
    return worker


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), DEADLINE)


def at_stage(worker: Worker, state: str, thread_state: ThreadState, waiting_for: str | None = None) -> int:
    return sum(
        1
        for info in worker.threads()
        if info.state == state
        and info.thread_state is thread_state
        and (waiting_for is None or info.waiting_for == waiting_for)
    )


def stage_intervals(trace: Path, *stages: str) -> list[Interval]:
    return [interval for interval in read_intervals(trace) if interval.stage in stages]


def samples(worker_metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = worker_metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_six_threads_keep_pc1_to_two_pc2_to_one_and_the_gpu_lock_to_one_holder(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    processors = (
        "[processors.limitation.concurrent]\npc1 = 2\npc2 = 1\n[processors.ext_locks]\ngpu = 1\n"
        + entry("pc1", trace, HELD_GATE=str(gate), HELD_ALL="1")
        + entry("pc2", trace, ("gpu",), HELD_SECONDS="0.05")
        + entry("c2", trace, ("gpu",), HELD_SECONDS="0.05")
    )
    worker = worker_for(tmp_path, 6, processors)
    metrics = WorkerMetrics(worker)

    async def story() -> None:
        running = asyncio.ensure_future(worker.run())
        await until(lambda: at_stage(worker, "TicketAssigned", ThreadState.WAITING, "pc1 slot (2/2 busy)") == 4)
        await until(lambda: at_stage(worker, "TicketAssigned", ThreadState.RUNNING) == 2)
        busy = [info for info in worker.threads() if info.thread_state is ThreadState.RUNNING]
        assert all(info.proc and info.proc.startswith("ext(pid: ") for info in busy)
        waiting = next(info for info in worker.threads() if info.thread_state is ThreadState.WAITING)
        assert waiting.to_worker_info()["waiting_for"] == "pc1 slot (2/2 busy)"
        scraped = samples(metrics)
        assert scraped[("sealer_fsm_processor_busy", (("stage", "pc1"),))] == 2
        assert scraped[("sealer_fsm_processor_queued", (("stage", "pc1"),))] == 4
        assert scraped[("sealer_fsm_processor_limit", (("stage", "pc1"),))] == 2
        waits = (("thread", str(waiting.index)), ("waiting_for", "pc1 slot (2/2 busy)"))
        assert scraped[("sealer_fsm_thread_waiting_for", waits)] == 1
        gate.unlink()
        await asyncio.wait_for(running, DEADLINE)

    asyncio.run(story())
    pc1 = stage_intervals(trace, "pc1")
    assert sum(1 for interval in pc1 if interval.ok) >= 6  # (threads start their next sector until the drain)
    assert max_overlap(pc1) == 2
    assert max_overlap(stage_intervals(trace, "pc2")) == 1
    assert max_overlap(stage_intervals(trace, "pc2", "c2")) == 1  # the gpu lock: never held twice
    assert sum(1 for interval in stage_intervals(trace, "c2") if interval.ok) >= 6


def test_staggered_pc1_starts_wait_for_the_interval_or_a_finished_pc1(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    processors = '[processors.limitation.concurrent]\npc1 = 2\n[processors.limitation.staggered]\npc1 = "1h"\n' + entry(
        "pc1", trace, HELD_GATE=str(gate), HELD_ALL="1", HELD_SECONDS="0.1"
    )
    worker = worker_for(tmp_path, 3, processors)

    async def story() -> None:
        running = asyncio.ensure_future(worker.run())
        await until(lambda: at_stage(worker, "TicketAssigned", ThreadState.WAITING, "pc1 staggered start") == 2)
        await until(lambda: at_stage(worker, "TicketAssigned", ThreadState.RUNNING) == 1)  # a slot stays free
        assert at_stage(worker, "TicketAssigned", ThreadState.WAITING, "pc1 staggered start") == 2
        gate.unlink()
        await asyncio.wait_for(running, DEADLINE)

    asyncio.run(story())
    starts = stage_intervals(trace, "pc1")
    assert len(starts) >= 3  # (threads start their next sector until the drain)
    # an hour never passes here, so every start after the first follows the end of the one before
    for previous, start in itertools.pairwise(starts):
        assert previous.end <= start.start


def test_a_child_killed_mid_pc1_is_restarted_and_the_step_retried_to_the_same_layers(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    worker = worker_for(tmp_path, 1, entry("pc1", trace, HELD_GATE=str(gate), HELD_ALL="1"))
    kept: dict[str, Any] = {}

    class AtPC1Done(WorkerListener):
        def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
            if destination == "PC1Done":
                kept["data"] = dict(thread.task.data)
                kept["history"] = worker.history(thread.index)

    worker.add_listener(AtPC1Done())

    async def story() -> None:
        running = asyncio.ensure_future(worker.run())
        await until(lambda: bool(read_intervals(trace)))
        os.kill(read_intervals(trace)[0].pid, signal.SIGKILL)
        await until(lambda: worker.thread(0).retry == 1)
        gate.unlink()
        await asyncio.wait_for(running, DEADLINE)

    asyncio.run(story())
    killed, retried = stage_intervals(trace, "pc1")
    assert killed.end == float("inf") and retried.ok and killed.pid != retried.pid
    failures = [entry.failure for entry in kept["history"] if entry.failure]
    assert failures == ["temporary: child process exited: pc1"]
    layers = kept["data"]["pc1_out"]["layers"]
    assert len(layers) == 2 and all(Path(path).name.startswith("sc-02-data-layer-") for path in layers)


def test_pause_now_cancels_pc1_in_the_child_and_resume_runs_it_again_never_twice_at_once(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    worker = worker_for(tmp_path, 1, entry("pc1", trace, HELD_GATE=str(gate), HELD_ALL="1"))

    async def story() -> None:
        running = asyncio.ensure_future(worker.run())
        await until(
            lambda: at_stage(worker, "TicketAssigned", ThreadState.RUNNING) == 1 and bool(read_intervals(trace))
        )
        worker.pause(0, now=True)
        await until(lambda: worker.thread(0).paused)
        (cancelled,) = stage_intervals(trace, "pc1")  # the child had ended it before the thread paused
        assert cancelled.ok is False
        gate.unlink()
        worker.resume(0)
        await asyncio.wait_for(running, DEADLINE)
        pc1_child = next(status for status in worker.processors.status() if status.stage == "pc1").children[0]
        assert pc1_child.starts == 1  # cancelled, not killed

    asyncio.run(story())
    first, second = stage_intervals(trace, "pc1")
    assert first.end <= second.start and second.ok


def test_a_drain_cancels_the_work_in_the_child_and_stops_the_children(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    worker = worker_for(tmp_path, 1, entry("pc1", trace, HELD_GATE=str(gate), HELD_ALL="1"))

    async def story() -> None:
        running = asyncio.ensure_future(worker.run())
        await until(lambda: bool(read_intervals(trace)))
        worker.drain()  # PC1 has no checkpoint: cancelled after drain_timeout
        await asyncio.wait_for(running, DEADLINE)

    asyncio.run(story())
    (interval,) = stage_intervals(trace, "pc1")
    assert interval.ok is False  # stopped in the child, not left running
    pid = interval.pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the pc1 child {pid} outlived the drained worker")
    assert worker.thread(0).state == "TicketAssigned"  # the step runs again on the next start


def test_an_external_c2_prover_gets_the_reference_task_and_its_proof_is_labelled_as_its_own(tmp_path: Path) -> None:
    prover = SUPPORT / "fake_prover.py"
    log = tmp_path / "prover.log"
    processors = f'[[processors.c2]]\nbin = "{sys.executable}"\nargs = ["{prover}", "{log}"]\n'
    worker = worker_for(tmp_path, 1, processors)
    kept: dict[str, Any] = {}

    class AtC2Done(WorkerListener):
        def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
            if destination == "C2Done":
                kept["data"] = dict(thread.task.data)
                kept["simulated"] = worker.thread(0).simulated

    worker.add_listener(AtC2Done())
    asyncio.run(asyncio.wait_for(worker.run(), DEADLINE))
    assert kept["simulated"] is False
    assert kept["data"]["proof_prover"] == f"processor c2 #0 ({sys.executable})"
    proof = bytes.fromhex(kept["data"]["proof"])
    assert len(proof) == 192 and not proof.startswith(b"SIMULATED")
    assert log.read_text().splitlines() == ["c1out prover_id sector_id miner_id"]  # the reference's c2 fields
    submissions = worker.services.manager.db.submissions()  # type: ignore[attr-defined]
    assert any(row["kind"] == "proof" and row["detail"] == EXTERNAL_PROOF for row in submissions)


def test_an_external_c1_child_gets_the_reference_arguments_and_writes_what_the_step_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    worker = worker_for(tmp_path, 1, "[[processors.c1]]\n")  # the worker's own `sealer-fsm processor c1`
    kept: dict[str, Any] = {}

    class AtC1Done(WorkerListener):
        def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
            if destination == "C1Done":
                kept["data"] = dict(thread.task.data)
                kept["c1"] = Path(thread.task.data["c1_out"]["path"]).read_bytes()

    worker.add_listener(AtC1Done())
    asyncio.run(asyncio.wait_for(worker.run(), DEADLINE))
    data, c1_json = kept["data"], kept["c1"]
    assert data["c1_out"]["sha256"] == hashlib.sha256(c1_json).hexdigest() and data["c1_out"]["challenges"] == 2
    verdict = verify_porep(
        parse_c1_output(c1_json),
        comm_d=bytes.fromhex(data["comm_d"]),
        comm_r=bytes.fromhex(data["comm_r"]),
        replica_id=bytes.fromhex(data["pc1_out"]["replica_id"]),
        seed=bytes.fromhex(data["seed"]["value"]),
    )
    assert verdict.valid
    assert any(": C1 done by ext(pid: " in record.getMessage() for record in caplog.records)
    finished = [task.state for task in worker.store.tasks() if task.sector == data["sector_id"]]
    assert finished == ["Finished"]  # the devnet verified the proof of that C1

"""External processors as the operator configures them: real child processes speaking the reference's protocol.

The children are our own `sealer-fsm processor <stage>` (through tests/support/held_processor.py, which can
hold a task until the test lets it go) and small scripts that misbehave on purpose. What ran when comes from the
children's own trace, never from timing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from sealer_fsm.config import load_machine_file
from sealer_fsm.processors import TRACE_ENV, ChildStatus, Processors, StageFailed, Timing
from sealer_fsm.processors._placement import cgroup_dir
from sealer_fsm.processors._spawn import cgroup_name, command
from sealer_fsm.proofs import CancelToken, zero_commitment
from sealer_fsm.steps.stages import builtin_stage
from tests.support.traces import read_intervals

HELD = Path(__file__).resolve().parent / "support" / "held_processor.py"
FAST = Timing(restart_delay=0.05, max_retry_delay=0.2, cancel_grace=2.0, close_grace=5.0, cancel_poll=0.05)
DEADLINE = 60.0  # a guard against a hang, never a measurement


def processors(tmp_path: Path, section: str, timing: Timing = FAST) -> Processors:
    """Processors from a machine file whose [processors] section is `section`."""
    path = tmp_path / "machine.toml"
    path.write_text('[[sealing_thread]]\nlocation = "t0"\n[[attached]]\nlocation = "store"\n' + section)
    return Processors(load_machine_file(path, tmp_path / "home").processors, timing=timing)


def held_entry(stage: str, trace: Path, **envs: str) -> str:
    table = ", ".join(f'{key} = "{value}"' for key, value in {TRACE_ENV: str(trace), **envs}.items())
    return f'[[processors.{stage}]]\nbin = "{sys.executable}"\nargs = ["{HELD}", "{stage}"]\nenvs = {{ {table} }}\n'


def script(tmp_path: Path, name: str, body: str) -> Path:
    """A child program that misbehaves as `body` says; it appends one line to `<name>.starts` per start."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho start >> {tmp_path / name}.starts\n{body}\n")
    path.chmod(0o755)
    return path


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), DEADLINE)


def child(pool: Processors, stage: str) -> ChildStatus:
    """The first child of `stage`, as the status surfaces show it."""
    return next(status for status in pool.status() if status.stage == stage).children[0]


def on_loop(story: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(story(), 4 * DEADLINE))


def transfer_task(tmp_path: Path, name: str, **extra: Any) -> dict[str, Any]:
    source = tmp_path / f"{name}.src"
    source.write_text(name)
    route = {"src": {"store_name": None, "uri": str(source)}, "dest": {"store_name": "s", "uri": str(tmp_path / name)}}
    return {"stores": {}, "routes": [{**route, "opt": None}], **extra}


def test_a_child_answers_each_request_when_it_is_done_in_any_order(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    pool = processors(tmp_path, held_entry("transfer", trace, HELD_GATE=str(gate)))

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            slow = asyncio.ensure_future(pool.run("transfer", transfer_task(tmp_path, "slow", hold=True)))
            await until(lambda: bool(read_intervals(trace)))
            fast = await pool.run("transfer", transfer_task(tmp_path, "fast"))
            assert fast.output is True and fast.processor.startswith("ext(pid: ")
            assert not slow.done()
            gate.unlink()
            assert (await slow).output is True

    on_loop(story)
    fast_interval, slow_interval = sorted(read_intervals(trace), key=lambda interval: interval.end)
    assert (fast_interval.request, slow_interval.request) == (2, 1)  # answered out of order
    assert (tmp_path / "slow").read_text() == "slow"


def test_a_stage_failure_in_the_child_keeps_its_level_and_sentence(tmp_path: Path) -> None:
    pool = processors(tmp_path, "[[processors.transfer]]\n")

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            with pytest.raises(StageFailed) as failure:
                await pool.run("transfer", {"stores": {}})
            assert (failure.value.level, failure.value.message) == ("permanent", "the task has no field 'routes'")

    on_loop(story)


@pytest.mark.parametrize(
    ("body", "stable_wait", "words"),
    [
        ("echo hello; sleep 60", "5s", "unexpected first line 'hello' (expected 'pc2 processor ready')"),
        ("sleep 60", "300ms", "no handshake within 300ms (expected 'pc2 processor ready')"),
        ("exit 3", "5s", "exited with status 3 before its handshake"),
    ],
)
def test_a_child_without_its_handshake_is_reported_and_retried_while_other_stages_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: str, stable_wait: str, words: str
) -> None:
    bad = script(tmp_path, "bad-pc2", body)
    pool = processors(
        tmp_path,
        f'[[processors.pc2]]\nbin = "{bad}"\nstable_wait = "{stable_wait}"\n[[processors.transfer]]\n',
    )
    starts = tmp_path / "bad-pc2.starts"

    async def story() -> None:
        async with pool:
            await until(lambda: starts.exists() and len(starts.read_text().split()) >= 2)  # retried
            assert (await pool.run("transfer", transfer_task(tmp_path, "meanwhile"))).output is True
            with pytest.raises(StageFailed) as failure:
                await pool.run("pc2", {})
            assert failure.value.level == "temporary" and words in failure.value.message

    with caplog.at_level(logging.ERROR, logger="sealer_fsm.processors"):
        on_loop(story)
    reports = [record.getMessage() for record in caplog.records if words in record.getMessage()]
    assert reports and all(f"processor pc2 #0 ({bad}): " in report for report in reports)
    assert all("\n" not in report for report in reports)


def test_a_missing_program_is_reported_by_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pool = processors(tmp_path, f'[[processors.c2]]\nbin = "{tmp_path}/no-such-prover"\n')

    async def story() -> None:
        async with pool:
            await until(lambda: child(pool, "c2").state == "failed")

    with caplog.at_level(logging.ERROR, logger="sealer_fsm.processors"):
        on_loop(story)
    assert any(f"cannot start '{tmp_path}/no-such-prover'" in record.getMessage() for record in caplog.records)


def test_a_child_killed_mid_pc1_is_restarted_and_the_task_retried_to_the_same_result(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    task = pc1_task(tmp_path)
    expected = builtin_stage("pc1")(pc1_task(tmp_path / "in-process"), CancelToken())
    gate.touch()
    pool = processors(tmp_path, held_entry("pc1", trace, HELD_GATE=str(gate), HELD_ALL="1"))

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            first = asyncio.ensure_future(pool.run("pc1", task))
            await until(lambda: bool(read_intervals(trace)))
            victim = read_intervals(trace)[0].pid
            os.kill(victim, signal.SIGKILL)
            with pytest.raises(StageFailed) as failure:
                await first
            assert failure.value.level == "temporary" and failure.value.message == "child process exited: pc1"
            gate.unlink()
            await until(lambda: child(pool, "pc1").starts == 2)
            again = await pool.run("pc1", task)
            assert again.processor != f"ext(pid: {victim})"
            for key in ("registered_proof", "replica_id", "proof_type", "comm_d"):
                assert again.output[key] == expected[key]
            layers = [Path(path).read_bytes() for path in again.output["layers"]]
            assert layers == [Path(path).read_bytes() for path in expected["layers"]]
            assert not Path(task["out_path"]).exists()  # a replica of an earlier PC2 would be stale

    on_loop(story)
    killed, retried = read_intervals(trace)
    assert killed.end == float("inf") and retried.ok is True


def test_a_cancelled_call_stops_in_the_child_before_it_returns(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    pool = processors(tmp_path, held_entry("transfer", trace, HELD_GATE=str(gate)))

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            call = asyncio.ensure_future(pool.run("transfer", transfer_task(tmp_path, "x", hold=True)))
            await until(lambda: bool(read_intervals(trace)))
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            # by the time the call is gone, the child has ended the task (and was not killed for it)
            (interval,) = read_intervals(trace)
            assert interval.ok is False
            assert child(pool, "transfer").starts == 1

    on_loop(story)


def test_a_child_that_ignores_cancel_requests_is_killed_before_the_call_returns(tmp_path: Path) -> None:
    mute = script(tmp_path, "mute-c2", "echo 'c2 processor ready'; exec sleep 600")
    timing = Timing(restart_delay=0.05, max_retry_delay=0.2, cancel_grace=0.3, close_grace=5.0, cancel_poll=0.05)
    pool = processors(tmp_path, f'[[processors.c2]]\nbin = "{mute}"\n', timing)

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            pid = child(pool, "c2").pid
            call = asyncio.ensure_future(pool.run("c2", {"c1out": {}}))
            await asyncio.sleep(0)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # gone, and reaped, before the cancelled call returned
            await until(lambda: child(pool, "c2").starts == 2)  # and restarted

    on_loop(story)


def test_a_gpu_lock_shared_by_pc2_and_c2_is_never_held_twice(tmp_path: Path) -> None:
    trace, gate = tmp_path / "trace", tmp_path / "gate"
    gate.touch()
    entries = "".join(
        held_entry(stage, trace, HELD_GATE=str(gate), HELD_ALL="1").replace("\n", '\nlocks = ["gpu"]\n', 1)
        for stage in ("pc2", "c2")
    )
    pool = processors(tmp_path, "[processors.ext_locks]\ngpu = 1\n" + entries)
    waits: list[str | None] = []

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            pc2 = asyncio.ensure_future(pool.run("pc2", {}))
            await until(lambda: bool(read_intervals(trace)))
            c2 = asyncio.ensure_future(pool.run("c2", {}, report=lambda waiting, proc: waits.append(waiting)))
            await until(lambda: "lock gpu" in waits)
            assert pool.locks()[0].held == 1
            gate.unlink()
            for call in (pc2, c2):
                with pytest.raises(StageFailed):
                    await call  # the simulated stages refuse an empty task, after the lock was held

    on_loop(story)
    first, second = read_intervals(trace)
    assert {first.stage, second.stage} == {"pc2", "c2"} and first.end <= second.start


def test_cpuset_pins_the_child_and_puts_it_in_a_cpuset_cgroup_where_the_host_allows(tmp_path: Path) -> None:
    group = f"sealer-fsm-test-{os.getpid()}"
    pool = processors(
        tmp_path,
        f'[[processors.transfer]]\ncgroup.cpuset = "0"\ncgroup.group_name = "{group}"\nnuma_preferred = 0\n'
        'inherit_envs = false\nenvs = { PATH = "/usr/bin:/bin", MARK = "x" }\n',
    )
    spec = pool.external("transfer")[0]
    directory = cgroup_dir(cgroup_name(spec))

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            pid = child(pool, "transfer").pid
            status = Path(f"/proc/{pid}/status").read_text()
            assert "Cpus_allowed_list:\t0\n" in status
            environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if item)
            assert environ["MARK"] == "x" and environ["VENUS_WORKER_NUMA_PREFERRED"] == "0"
            assert environ["VC_CG_CPUSET"] == "0" and environ["VC_CG_NAME"] == cgroup_name(spec)
            assert "HOME" not in environ  # inherit_envs = false
            if directory is not None and os.access(directory.parent.parent, os.W_OK):
                assert str(pid) in (directory / "cgroup.procs").read_text().split()
                assert (directory / "cpuset.cpus").read_text().strip() == "0"
            numa_maps = Path(f"/proc/{pid}/numa_maps")
            if numa_maps.exists() and Path("/sys/devices/system/node/node0").is_dir():
                assert "prefer:0" in numa_maps.read_text()

    on_loop(story)
    if directory is not None:
        assert not directory.exists()  # removed once the child exited
        if directory.parent.is_dir():
            directory.parent.rmdir()


def test_the_default_child_is_this_workers_own_processor_command(tmp_path: Path) -> None:
    entries = '[[processors.pc1]]\n[[processors.c2]]\nbin = "/opt/damocles-worker"\n[[processors.pc2]]\nargs = ["x"]\n'
    pool = processors(tmp_path, entries)
    assert command(pool.external("pc1")[0]) == [sys.executable, "-m", "sealer_fsm", "processor", "pc1"]
    assert command(pool.external("c2")[0]) == ["/opt/damocles-worker", "processor", "c2"]
    assert command(pool.external("pc2")[0]) == [sys.executable, "-m", "sealer_fsm", "x"]


def pc1_task(root: Path) -> dict[str, Any]:
    """A PC1 task (the reference's fields) for a staged 2KiB sector of zeros under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    staged = root / "staged"
    staged.write_bytes(bytes(2048))
    zero_piece = {"commitment": list(zero_commitment(2048)), "size": 2032}
    return {
        "registered_proof": "StackedDrg2KiBV1_1",
        "cache_path": str(root / "cache"),
        "in_path": str(staged),
        "out_path": str(root / "sealed"),
        "prover_id": [232, 7] + [0] * 30,
        "sector_id": 7,
        "ticket": [1] * 32,
        "piece_infos": [zero_piece],
    }


def test_garbage_stray_ids_and_a_closed_stdout_from_a_child_fail_only_their_own_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = script(
        tmp_path,
        "broken-pc2",
        "echo 'pc2 processor ready'\nread line\necho 'not json at all'\n"
        'echo \'{"id": 999, "err_msg": null, "output": 1}\'\necho \'{"id": 1, "err_msg": null, "output": null}\'\n'
        'read line\necho \'{"id": 2, "err_msg": "temporary: the GPU is busy", "output": null}\'\n'
        "read line\nexec 1>&-\nexec sleep 600",
    )
    pool = processors(tmp_path, f'[[processors.pc2]]\nbin = "{broken}"\n')

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            pid = child(pool, "pc2").pid
            with pytest.raises(StageFailed, match=r"^permanent: processor pc2 #0 \(.*\): output field lost$"):
                await pool.run("pc2", {})
            with pytest.raises(StageFailed, match=r"^temporary: the GPU is busy$"):
                await pool.run("pc2", {})
            with pytest.raises(StageFailed, match=r"^temporary: child process exited: pc2$"):
                await pool.run("pc2", {})  # stdout closed, the child still alive: it is killed and restarted
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
            await until(lambda: child(pool, "pc2").starts == 2)

    with caplog.at_level(logging.ERROR, logger="sealer_fsm.processors"):
        on_loop(story)
    assert any("failed to unmarshal response: not JSON: 'not json at all'" in r.getMessage() for r in caplog.records)


def test_a_trace_the_child_cannot_write_does_not_stop_its_work(tmp_path: Path) -> None:
    pool = processors(tmp_path, held_entry("transfer", tmp_path / "no-such-folder" / "trace"))

    async def story() -> None:
        async with pool:
            await until(pool.ready)
            assert (await pool.run("transfer", transfer_task(tmp_path, "x"))).output is True

    on_loop(story)

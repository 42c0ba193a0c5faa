"""A store that cannot write (full disk): the affected threads pause with the file and its free space, nothing is
lost or invented, the worker keeps answering, and the threads go on by themselves once writes succeed again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sealer_fsm.runtime import NotPaused, Outcome, ThreadState
from tests.harness import build_worker, registry_for, until


def looping(ctx):
    """Walk the plan forward for ever (a fresh sector id per task), with a history row per step."""

    async def step(ctx):
        spec = ctx.plan.state(ctx.state)
        if not spec.on:
            return None
        return Outcome(list(spec.on)[-1], {"sector_id": ctx.data.get("sector_id", f"s-t01000-{ctx.thread_index}")})

    return step


def limit_pages(worker, extra: int) -> None:
    """Cap the database at its current size plus `extra` pages: SQLite answers SQLITE_FULL beyond it."""

    def cap(db):
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + extra}")

    worker.store._write(cap).wait()


def replays(worker) -> None:
    """Every task's history, replayed from its plan's initial state, ends in its stored state."""
    for task in worker.store.tasks():
        plan = worker.plan_of(task.thread)
        state = plan.initial
        for entry in worker.store.history(task.id):
            if entry.event is not None:
                assert entry.from_state == state
                state = entry.to_state
        assert state == task.state


def test_a_full_database_pauses_the_threads_and_they_resume_when_space_is_back(tmp_path, machine_file, caplog):
    caplog.set_level(logging.WARNING, "sealer_fsm")
    worker = build_worker(machine_file(["sealer", "sealer", "snapup"]), tmp_path / "h", registry_for(looping(None)))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: len(worker.store.tasks()) >= 3)
        limit_pages(worker, 0)
        await until(lambda: all(info.paused for info in worker.threads()), timeout=30)
        infos = worker.threads()
        for info in infos:
            assert info.thread_state is ThreadState.PAUSED and info.paused_by == "worker"
            assert "database or disk is full" in info.last_error and "sealer-fsm.db" in info.last_error
            assert "free on its file system" in info.last_error
        with pytest.raises(NotPaused, match="resumes by itself"):
            worker.resume(0)
        stuck = [len(worker.store.history(info.task_id)) for info in infos]
        for _ in range(50):
            await asyncio.sleep(0)
        assert [len(worker.store.history(info.task_id)) for info in worker.threads()] == stuck
        limit_pages(worker, 100_000)
        await until(lambda: all(len(worker.store.tasks()) > 3 and not info.paused for info in worker.threads()))
        await until(lambda: len(worker.store.tasks()) > 6)
        worker.drain()
        await runner

    asyncio.run(scenario())
    replays(worker)
    messages = [record.getMessage() for record in caplog.records]
    assert any("paused until the store can write again" in message for message in messages)
    assert any("the store accepts writes again" in message for message in messages)


def test_a_drain_while_the_store_cannot_write_ends_cleanly(tmp_path, machine_file):
    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(looping(None)))

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: worker.store.tasks())
        limit_pages(worker, 0)
        await until(lambda: worker.thread(0).paused, timeout=30)
        worker.drain()
        await asyncio.wait_for(runner, timeout=10)  # no exception escapes run()

    asyncio.run(scenario())
    replays(worker)

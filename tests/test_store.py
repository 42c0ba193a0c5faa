"""The task store: guarded writes, history rows, group commit, and refusals for files that are not our database."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from sealer_fsm.manager.devnet import DATABASE_NAME as DEVNET_DATABASE
from sealer_fsm.manager.devnet._db import DevnetDatabase
from sealer_fsm.store import Change, Pause, StaleTaskError, StoreError, TaskStore

DATA = Path(__file__).resolve().parent / "data"


def test_a_change_moves_the_task_and_appends_history_atomically(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "Empty", 10.0).wait()
    change = Change("Empty", "Allocate", "Allocated", 11.0, {"sector_id": "s-t01000-1", "blob": "x" * 500})
    moved = store.record(task, dataclasses.replace(change, sector="s-t01000-1")).wait()
    assert moved == store.task(task.id)
    assert task.state == "Empty"  # the caller's record never changes under it
    assert (moved.state, moved.prev_state, moved.sector) == ("Allocated", "Empty", "s-t01000-1")
    assert moved.state_since == 11.0
    (entry,) = store.history(task.id)
    assert (entry.from_state, entry.event, entry.to_state, entry.actor) == ("Empty", "Allocate", "Allocated", "step")
    assert len(entry.payload) <= 240 and entry.payload.endswith("…")
    assert store.last_move(task.id) == entry


def test_the_store_reads_no_step_data_keys(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "Empty", 0.0).wait()
    moved = store.record(task, Change("Empty", "Allocate", "Allocated", 1.0, {"sector_id": "s-t01000-1"})).wait()
    assert moved.sector is None  # the runtime says which sector a task holds; the store does not guess


def test_a_write_from_a_stale_view_fails_and_changes_nothing(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "Empty", 0.0).wait()
    store.record(task, Change("Empty", "Allocate", "Allocated", 1.0)).wait()
    with pytest.raises(StaleTaskError):
        store.record(task, Change("Empty", "Allocate", "Allocated", 2.0)).wait()
    assert len(store.history(task.id)) == 1


def test_one_open_task_per_thread(tmp_path):
    store = TaskStore(tmp_path / "db")
    store.create_task(3, "sealer", "plans/sealer.yaml", "Empty", 0.0).wait()
    with pytest.raises(sqlite3.IntegrityError):
        store.create_task(3, "sealer", "plans/sealer.yaml", "Empty", 0.0).wait()


def test_who_paused_a_task_is_kept_and_cleared_on_resume(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "p.yaml", "Empty", 0.0, pause=Pause("operator", "disk swap")).wait()
    assert (task.paused, task.paused_by, task.paused_at, task.pause_reason) == (True, "operator", 0.0, "disk swap")
    resumed = store.update_control(task, retry=0, pause=None, last_error=None, at=5.0).wait()
    assert (resumed.paused, resumed.paused_by, resumed.paused_at, resumed.pause_reason) == (False, None, None, None)


def _held(store: TaskStore) -> threading.Event:
    """Hold the writer thread inside a write until the returned event is set, so later writes queue up."""
    release, holding = threading.Event(), threading.Event()

    def gate(db):
        holding.set()
        release.wait()

    store._write(gate)
    holding.wait()
    return release


def test_writes_that_arrive_during_a_commit_share_the_next_one(tmp_path):
    store = TaskStore(tmp_path / "db")
    tasks = [store.create_task(thread, "sealer", "p.yaml", "Empty", 0.0).wait() for thread in range(200)]
    release = _held(store)
    before = store.commits
    pending = [store.record(task, Change("Empty", "Allocate", "Allocated", 1.0)) for task in tasks]
    release.set()
    assert {commit.wait().state for commit in pending} == {"Allocated"}
    assert store.commits - before == 2  # the held write's transaction, then one for all 200
    assert all(len(store.history(task.id)) == 1 for task in tasks)


def test_a_failing_write_fails_alone_in_its_group(tmp_path):
    store = TaskStore(tmp_path / "db")
    first, second = (store.create_task(thread, "sealer", "p.yaml", "Empty", 0.0).wait() for thread in (0, 1))
    release = _held(store)
    good = store.record(first, Change("Empty", "Allocate", "Allocated", 1.0))
    stale = store.record(second, Change("Allocated", "AcquireDeals", "DealsAcquired", 1.0))
    also_good = store.record(second, Change("Empty", "Allocate", "Allocated", 1.0))
    release.set()
    assert good.wait().state == also_good.wait().state == "Allocated"
    with pytest.raises(StaleTaskError):
        stale.wait()
    assert [len(store.history(task.id)) for task in (first, second)] == [1, 1]


def test_a_write_cancelled_before_it_ran_never_runs(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "p.yaml", "Empty", 0.0).wait()
    release = _held(store)
    abandoned = store.record(task, Change("Empty", "Allocate", "Allocated", 1.0))
    assert abandoned.cancel()
    release.set()
    store.close()
    assert TaskStore(tmp_path / "db", readonly=True).task(task.id).state == "Empty"


def test_a_write_that_changed_rows_before_failing_leaves_nothing_and_its_group_commits(tmp_path):
    store = TaskStore(tmp_path / "db")
    first, second = (store.create_task(thread, "sealer", "p.yaml", "Empty", 0.0).wait() for thread in (0, 1))
    release = _held(store)
    good = store.record(first, Change("Empty", "Allocate", "Allocated", 1.0))

    def half_done(db):
        db.execute("INSERT INTO plans (hash, name, path, text) VALUES ('h', 'sealer', 'p.yaml', 'text')")
        raise ValueError("failed after its first statement")

    failing = store._write(half_done)
    also_good = store.record(second, Change("Empty", "Allocate", "Allocated", 1.0))
    release.set()
    assert good.wait().state == also_good.wait().state == "Allocated"
    with pytest.raises(ValueError, match="after its first statement"):
        failing.wait()
    assert store.plan_text("h") is None
    assert [len(store.history(task.id)) for task in (first, second)] == [1, 1]


def test_coroutines_awaiting_one_group_each_get_their_own_outcome(tmp_path):
    store = TaskStore(tmp_path / "db")
    tasks = [store.create_task(thread, "sealer", "p.yaml", "Empty", 0.0).wait() for thread in range(3)]

    async def main():
        release = _held(store)
        moves = [store.record(task, Change("Empty", "Allocate", "Allocated", 1.0)) for task in tasks]
        stale = store.record(tasks[0], Change("Sealed", "Finish", "Finished", 1.0))
        abandoned = asyncio.ensure_future(_await(store.record(tasks[1], Change("Empty", "Go", "Elsewhere", 1.0))))
        awaiting = asyncio.gather(*(_await(move) for move in moves), _await(stale), return_exceptions=True)
        await asyncio.sleep(0)  # every coroutine now awaits its commit
        abandoned.cancel()
        await asyncio.sleep(0)
        release.set()
        outcomes = await awaiting
        assert [moved.state for moved in outcomes[:3]] == ["Allocated"] * 3
        assert isinstance(outcomes[3], StaleTaskError)
        assert abandoned.cancelled()
        already_done = await moves[0]  # a commit awaited after it resolved gives its outcome at once
        assert already_done.state == "Allocated"

    asyncio.run(main())
    assert [len(store.history(task.id)) for task in tasks] == [1, 1, 1]  # the abandoned write never ran


async def _await(commit):
    return await commit


# -- which files are ours ------------------------------------------------------------------------------------


def _sqlite_file(path: Path, *statements: str) -> Path:
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()
    return path


def _unchanged(path: Path):
    content = path.read_bytes() if path.is_file() else None
    return lambda: (path.read_bytes() if path.is_file() else None) == content and not Path(f"{path}-wal").exists()


@pytest.mark.parametrize("readonly", [False, True])
def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path, readonly):
    path = _sqlite_file(tmp_path / "sealer-fsm.db", "CREATE TABLE foo (x)")
    untouched = _unchanged(path)
    with pytest.raises(StoreError, match=r"sealer-fsm.db is not a sealer-fsm task database .*tables: foo"):
        TaskStore(path, readonly=readonly)
    assert untouched()


def test_an_empty_file_is_refused_and_only_a_missing_one_starts_a_new_database(tmp_path):
    path = tmp_path / "sealer-fsm.db"
    path.touch()
    with pytest.raises(StoreError, match=r"is an empty file.*only a missing file"):
        TaskStore(path)
    assert path.stat().st_size == 0
    path.unlink()
    TaskStore(path).close()
    assert path.stat().st_size > 0


def test_a_devnet_database_is_refused_as_the_task_database(tmp_path):
    DevnetDatabase(tmp_path / DEVNET_DATABASE).close()
    shutil.copy(tmp_path / DEVNET_DATABASE, tmp_path / "sealer-fsm.db")
    with pytest.raises(StoreError, match="is the devnet's chain database, not a sealer-fsm task database"):
        TaskStore(tmp_path / "sealer-fsm.db")
    with pytest.raises(StoreError, match="is a sealer-fsm task database, not the devnet's chain database"):
        TaskStore(tmp_path / "task.db").close()
        DevnetDatabase(tmp_path / "task.db")


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "sealer-fsm.db"
    TaskStore(path).close()
    _sqlite_file(path, "PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=r"by a newer sealer-fsm \(schema version 99; this one reads up to 3\)"):
        TaskStore(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("hello, this is not SQLite at all " * 10), "is not an SQLite database"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: (TaskStore(p).close(), p.write_bytes(p.read_bytes()[:1024])), "is damaged"),
        (lambda p: (TaskStore(p).close(), p.write_bytes(p.read_bytes()[:100] + b"\x07" * 8092)), "is damaged"),
    ],
    ids=["text", "directory", "truncated", "scrambled"],
)
def test_damaged_or_odd_files_are_refused_in_one_sentence(tmp_path, make, message):
    path = tmp_path / "sealer-fsm.db"
    make(path)
    with pytest.raises(StoreError, match=message) as refused:
        TaskStore(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


def test_a_journal_without_its_database_is_refused(tmp_path):
    (tmp_path / "sealer-fsm.db-wal").write_bytes(b"\0" * 64)
    with pytest.raises(StoreError, match=r"sealer-fsm\.db-wal exists but"):
        TaskStore(tmp_path / "sealer-fsm.db")
    assert not (tmp_path / "sealer-fsm.db").exists()


def test_a_version_1_database_is_upgraded_with_its_tasks(tmp_path):
    path = tmp_path / "sealer-fsm.db"
    shutil.copy(DATA / "sealer-fsm-v1.db", path)
    before = sqlite3.connect(path).execute("SELECT id, state, sector FROM tasks ORDER BY id").fetchall()
    store = TaskStore(path)
    assert [(task.id, task.state, task.sector) for task in store.tasks()] == before
    assert all(task.paused_by is None and task.plan_hash is None for task in store.tasks())
    store.close()
    TaskStore(path, readonly=True).close()  # now stamped as ours


def test_reading_a_missing_database_says_so(tmp_path):
    with pytest.raises(StoreError, match="no sealer-fsm database at"):
        TaskStore(tmp_path / "missing.db", readonly=True)


def test_a_large_group_of_commits_resumes_its_waiters_in_slices() -> None:
    """A group of commits that lands at once resumes its awaiting tasks a slice per turn of the event loop, so the
    loop's other work (a timer, the control RPC) waits for one slice, not for the whole group."""
    from sealer_fsm.store._writer import SETTLE_SLICE, Commit, wake_loops

    async def scenario() -> list[int]:
        commits: list[Commit[int]] = [Commit() for _ in range(3 * SETTLE_SLICE + 1)]
        resumed: list[int] = []

        async def waiter(index: int) -> None:
            resumed.append(await commits[index])

        tasks = [asyncio.create_task(waiter(index)) for index in range(len(commits))]
        await asyncio.sleep(0)  # every waiter is awaiting its commit now
        for index, commit in enumerate(commits):
            commit.set_result(index)
        wake_loops(commits)
        seen = []
        while len(resumed) < len(commits):
            await asyncio.sleep(0)  # another coroutine's turn
            seen.append(len(resumed))
        await asyncio.gather(*tasks)
        assert sorted(resumed) == list(range(len(commits)))
        return [later - earlier for earlier, later in zip([0, *seen], seen, strict=False)]

    resumed_per_turn = asyncio.run(scenario())
    assert max(resumed_per_turn) <= SETTLE_SLICE

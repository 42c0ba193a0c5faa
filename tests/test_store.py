"""The task store: guarded writes, history rows, and clear refusals for files that are not our database."""

from __future__ import annotations

import sqlite3

import pytest

from sealer_fsm.store import Change, StaleTaskError, StoreError, TaskStore


def test_a_change_moves_the_task_and_appends_history_atomically(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "Empty", 10.0)
    store.record(task, Change("Empty", "Allocate", "Allocated", 11.0, {"sector_id": "s-t01000-1", "blob": "x" * 500}))
    stored = store.task(task.id)
    assert (stored.state, stored.prev_state, stored.sector, stored.state_since) == (
        "Allocated",
        "Empty",
        "s-t01000-1",
        11.0,
    )
    (entry,) = store.history(task.id)
    assert (entry.from_state, entry.event, entry.to_state, entry.actor) == ("Empty", "Allocate", "Allocated", "step")
    assert len(entry.payload) <= 240 and entry.payload.endswith("…")
    assert store.last_move(task.id) == entry


def test_a_write_from_a_stale_view_fails_and_changes_nothing(tmp_path):
    store = TaskStore(tmp_path / "db")
    task = store.create_task(0, "sealer", "plans/sealer.yaml", "Empty", 0.0)
    store.record(task, Change("Empty", "Allocate", "Allocated", 1.0))
    stale = store.task(task.id)
    stale.state = "Empty"
    with pytest.raises(StaleTaskError):
        store.record(stale, Change("Empty", "Allocate", "Allocated", 2.0))
    assert len(store.history(task.id)) == 1


def test_one_open_task_per_thread(tmp_path):
    store = TaskStore(tmp_path / "db")
    store.create_task(3, "sealer", "plans/sealer.yaml", "Empty", 0.0)
    with pytest.raises(sqlite3.IntegrityError):
        store.create_task(3, "sealer", "plans/sealer.yaml", "Empty", 0.0)


def test_files_that_are_not_our_database_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(StoreError, match="no sealer-fsm database at"):
        TaskStore(tmp_path / "missing.db", readonly=True)
    sqlite3.connect(tmp_path / "empty.db").close()
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="no tables yet"):
        TaskStore(tmp_path / "empty.db", readonly=True)
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    with pytest.raises(StoreError, match="is not a sealer-fsm database"):
        TaskStore(tmp_path / "other.db", readonly=True)
    (tmp_path / "text.db").write_text("hello, this is not SQLite at all " * 10)
    with pytest.raises(StoreError, match="is not a sealer-fsm database"):
        TaskStore(tmp_path / "text.db", readonly=True)

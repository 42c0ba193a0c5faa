"""Durable task state in SQLite (WAL): a task table and an append-only history table.

Every write that moves a task is one transaction that updates the task row and appends its history row, so a
SIGKILL at any instant leaves either both or neither. The update is guarded by the state it expects to leave:
a write based on a stale view of the task fails instead of overwriting a newer state.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealer_fsm.store._connection import connect_wal, immediate_transaction

SCHEMA_VERSION = 1
DATABASE_NAME = "sealer-fsm.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    thread INTEGER NOT NULL,
    plan TEXT NOT NULL,
    plan_path TEXT NOT NULL,
    state TEXT NOT NULL,
    prev_state TEXT,
    retry INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sector TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    state_since REAL NOT NULL,
    closed_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_task_per_thread ON tasks (thread) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS tasks_by_sector ON tasks (sector);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks (id),
    at REAL NOT NULL,
    from_state TEXT NOT NULL,
    event TEXT,
    to_state TEXT NOT NULL,
    failure TEXT,
    actor TEXT NOT NULL,
    reason TEXT,
    payload TEXT
);
CREATE INDEX IF NOT EXISTS history_by_task ON history (task_id, seq);
"""

_PAYLOAD_SUMMARY_LIMIT = 240


class StaleTaskError(RuntimeError):
    """The task was not in the state the writer expected: someone else moved it first."""


class StoreError(RuntimeError):
    """The database cannot be used (wrong schema version, not a sealer-fsm database)."""


@dataclass
class TaskRecord:
    id: int
    thread: int
    plan: str
    plan_path: str
    state: str
    prev_state: str | None
    retry: int
    paused: bool
    last_error: str | None
    sector: str | None
    data: dict[str, Any]
    created_at: float
    state_since: float
    closed_at: float | None

    def to_json(self) -> dict[str, Any]:
        """The `sectors list --json` shape."""
        return {
            "sector": self.sector,
            "plan": self.plan,
            "state": self.state,
            "thread": self.thread,
            "paused": self.paused,
            "last_error": self.last_error,
            "retry": self.retry,
            "comm_d": self.data.get("comm_d_cid"),
            "comm_r": self.data.get("comm_r_cid"),
        }


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    task_id: int
    at: float
    from_state: str
    event: str | None
    to_state: str
    failure: str | None = None
    actor: str = "step"
    reason: str | None = None
    payload: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `sectors history --json` shape, plus who asked and why for operator actions."""
        entry: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at,
            "from": self.from_state,
            "event": self.event,
            "to": self.to_state,
            "failure": self.failure,
        }
        if self.actor != "step":
            entry["actor"] = self.actor
            entry["reason"] = self.reason
        return entry


@dataclass(frozen=True)
class Change:
    """One durable step of a task: a state change, or a failure recorded in place (source == destination)."""

    source: str
    event: str | None
    destination: str
    at: float
    data_updates: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    actor: str = "step"
    reason: str | None = None
    retry: int = 0
    paused: bool = False
    last_error: str | None = None


def _row_to_task(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord(
        id=row["id"],
        thread=row["thread"],
        plan=row["plan"],
        plan_path=row["plan_path"],
        state=row["state"],
        prev_state=row["prev_state"],
        retry=row["retry"],
        paused=bool(row["paused"]),
        last_error=row["last_error"],
        sector=row["sector"],
        data=json.loads(row["data"]),
        created_at=row["created_at"],
        state_since=row["state_since"],
        closed_at=row["closed_at"],
    )


def _summarise(updates: dict[str, Any]) -> str | None:
    if not updates:
        return None
    text = json.dumps(updates, sort_keys=True, default=str)
    return text if len(text) <= _PAYLOAD_SUMMARY_LIMIT else text[: _PAYLOAD_SUMMARY_LIMIT - 1] + "…"


class TaskStore:
    """The worker's database. One instance per process; all writes go through its methods."""

    def __init__(self, path: str | Path, *, readonly: bool = False, synchronous: str = "FULL") -> None:
        """`synchronous="FULL"` (the default) puts every commit on disk, so a power cut, not only a killed
        process, loses nothing applied; "NORMAL" survives a killed process only (test launchers use it)."""
        self.path = Path(path)
        if readonly:
            if not self.path.is_file():
                raise StoreError(f"no sealer-fsm database at {self.path}")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 5000")
        else:
            self._db = connect_wal(self.path)
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            # One transaction, so a reader never sees the tables without their schema version.
            self._db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA}"
                f" INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
            )
        self._check_version()

    @classmethod
    def in_home(cls, home: str | Path, **options: Any) -> TaskStore:
        return cls(Path(home) / DATABASE_NAME, **options)

    def close(self) -> None:
        self._db.close()

    def _check_version(self) -> None:
        try:
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables == 0:
                raise StoreError(f"{self.path} has no tables yet: the worker is still creating it")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a sealer-fsm database ({error})") from error
        if row is None or int(row["value"]) != SCHEMA_VERSION:
            found = row["value"] if row else "none"
            raise StoreError(f"{self.path} has schema version {found}, this worker needs {SCHEMA_VERSION}")

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    # -- tasks -------------------------------------------------------------------------------------------------

    def open_task(self, thread: int) -> TaskRecord | None:
        row = self._db.execute("SELECT * FROM tasks WHERE thread = ? AND closed_at IS NULL", (thread,)).fetchone()
        return None if row is None else _row_to_task(row)

    def task(self, task_id: int) -> TaskRecord:
        row = self._db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise KeyError(task_id)
        return _row_to_task(row)

    def create_task(
        self, thread: int, plan: str, plan_path: str, state: str, at: float, *, paused: bool = False
    ) -> TaskRecord:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO tasks (thread, plan, plan_path, state, paused, created_at, state_since)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread, plan, plan_path, state, int(paused), at, at),
            )
        return self.task(cursor.lastrowid)

    def record(self, task: TaskRecord, change: Change) -> TaskRecord:
        """Apply `change` to `task` and append its history row in one transaction; returns the new record."""
        data = {**task.data, **change.data_updates}
        sector = data.get("sector_id", task.sector)
        moved = change.destination != change.source
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE tasks SET state = ?, prev_state = ?, retry = ?, paused = ?, last_error = ?, sector = ?,"
                " data = ?, state_since = ? WHERE id = ? AND state = ? AND closed_at IS NULL",
                (
                    change.destination,
                    change.source if moved else task.prev_state,
                    change.retry,
                    int(change.paused),
                    change.last_error,
                    sector,
                    json.dumps(data, sort_keys=True),
                    change.at if moved else task.state_since,
                    task.id,
                    change.source,
                ),
            )
            if cursor.rowcount != 1:
                raise StaleTaskError(f"task {task.id} is no longer open in state {change.source!r}")
            db.execute(
                "INSERT INTO history (task_id, at, from_state, event, to_state, failure, actor, reason, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task.id,
                    change.at,
                    change.source,
                    change.event,
                    change.destination,
                    change.failure,
                    change.actor,
                    change.reason,
                    _summarise(change.data_updates),
                ),
            )
        task.state, task.prev_state = change.destination, (change.source if moved else task.prev_state)
        task.retry, task.paused, task.last_error, task.sector, task.data = (
            change.retry,
            change.paused,
            change.last_error,
            sector,
            data,
        )
        if moved:
            task.state_since = change.at
        return task

    def update_control(self, task: TaskRecord, *, retry: int, paused: bool, last_error: str | None) -> None:
        """Persist the retry counter, paused flag and last error, which change without a history row."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET retry = ?, paused = ?, last_error = ? WHERE id = ?",
                (retry, int(paused), last_error, task.id),
            )
        task.retry, task.paused, task.last_error = retry, paused, last_error

    def close_task(self, task: TaskRecord, at: float) -> None:
        with self._transaction() as db:
            db.execute("UPDATE tasks SET closed_at = ?, paused = 0 WHERE id = ?", (at, task.id))
        task.closed_at = at
        task.paused = False

    # -- reading -----------------------------------------------------------------------------------------------

    def tasks(self) -> list[TaskRecord]:
        return [_row_to_task(row) for row in self._db.execute("SELECT * FROM tasks ORDER BY id").fetchall()]

    def tasks_for_sector(self, sector: str) -> list[TaskRecord]:
        rows = self._db.execute("SELECT * FROM tasks WHERE sector = ? ORDER BY id", (sector,)).fetchall()
        return [_row_to_task(row) for row in rows]

    def last_move(self, task_id: int) -> HistoryEntry | None:
        """The newest history row that changed the task's state (failures recorded in place are skipped)."""
        row = self._db.execute(
            "SELECT seq, task_id, at, from_state, event, to_state, failure, actor, reason, payload"
            " FROM history WHERE task_id = ? AND event IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (task_id,),
        ).fetchone()
        return None if row is None else HistoryEntry(*row)

    def history(self, task_id: int) -> list[HistoryEntry]:
        rows = self._db.execute(
            "SELECT seq, task_id, at, from_state, event, to_state, failure, actor, reason, payload"
            " FROM history WHERE task_id = ? ORDER BY seq",
            (task_id,),
        ).fetchall()
        return [HistoryEntry(*row) for row in rows]

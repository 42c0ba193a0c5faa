"""Durable task state in SQLite (WAL): a task table, its append-only history, and the plan versions tasks follow.

Every write that moves a task is one transaction that updates the task row and appends its history row, so a
SIGKILL at any instant leaves either both or neither. The update is guarded by the state it expects to leave:
a write based on a stale view of the task fails instead of overwriting a newer state. Writes run on the store's
writer thread and commit in groups (see `_writer`); each returns a `Commit` resolving to the new record.

The store stores what it is given: it reads no step's data keys (the runtime says which sector a task holds).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from sealer_fsm.store._errors import StaleTaskError, StoreError, storage_error
from sealer_fsm.store._identity import DatabaseKind, identify, open_database, register_kind
from sealer_fsm.store._records import (
    HISTORY_COLUMNS,
    TASK_COLUMNS,
    Change,
    Deferred,
    HistoryEntry,
    Pause,
    TaskRecord,
    row_to_task,
)
from sealer_fsm.store._writer import Commit, Writer

DATABASE_NAME = "sealer-fsm.db"

_TASKS = """
CREATE TABLE tasks (
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
CREATE UNIQUE INDEX one_open_task_per_thread ON tasks (thread) WHERE closed_at IS NULL;
CREATE INDEX tasks_by_sector ON tasks (sector);
CREATE TABLE history (
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
CREATE INDEX history_by_task ON history (task_id, seq);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Version 2: who paused a task, when and why; the plan version each task follows; the version lives in the
# SQLite header (user_version), no longer in a meta table.
_TO_VERSION_2 = """
ALTER TABLE tasks ADD COLUMN plan_hash TEXT;
ALTER TABLE tasks ADD COLUMN paused_by TEXT;
ALTER TABLE tasks ADD COLUMN paused_at REAL;
ALTER TABLE tasks ADD COLUMN pause_reason TEXT;
CREATE TABLE plans (hash TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, text TEXT NOT NULL);
DROP TABLE meta;
"""


# Version 3: calls owed to another party (ReportAborted) that failed, kept until a retry succeeds.
_TO_VERSION_3 = """
CREATE TABLE deferred (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


def _legacy_version(db: sqlite3.Connection, tables: set[str]) -> int | None:
    """Version 1 databases kept their version in `meta` and left the SQLite header unstamped."""
    if not {"meta", "tasks", "history"} <= tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 1 if row is not None and row[0] == "1" else None


TASK_DATABASE = register_kind(
    DatabaseKind(
        name="a sealer-fsm task database",
        application_id=int.from_bytes(b"sFSM", "big"),
        version=3,
        schema=_TASKS + _TO_VERSION_2 + _TO_VERSION_3,
        upgrades={1: _TO_VERSION_2, 2: _TO_VERSION_3},
        legacy_version=_legacy_version,
    )
)
_PAYLOAD_SUMMARY_LIMIT = 240
# Made once: `json.dumps` with options builds a new encoder on every call, and these run for every write.
_DATA_ENCODER = json.JSONEncoder(sort_keys=True)
_SUMMARY_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def _summarise(updates: dict[str, Any]) -> str | None:
    if not updates:
        return None
    text = _SUMMARY_ENCODER.encode(updates)
    return text if len(text) <= _PAYLOAD_SUMMARY_LIMIT else text[: _PAYLOAD_SUMMARY_LIMIT - 1] + "…"


def _pause_columns(pause: Pause | None, at: float) -> tuple[int, str | None, float | None, str | None]:
    return (0, None, None, None) if pause is None else (1, pause.actor, at, pause.reason)


class TaskStore:
    """The worker's database. One instance per process; all writes go through its methods."""

    def __init__(self, path: str | Path, *, readonly: bool = False, synchronous: str = "FULL") -> None:
        """`synchronous="FULL"` (the default) puts every commit on disk, so a power cut, not only a killed
        process, loses nothing applied; "NORMAL" survives a killed process only (test launchers use it).

        A missing file starts a new database; anything else must be ours (StoreError in one sentence if not)."""
        self.path = Path(path)
        self._writer: Writer | None = None
        if readonly:
            self._db = self._open_readonly()
        else:
            self._writer = Writer(open_database(self.path, TASK_DATABASE, synchronous=synchronous), self.path, "store")
            self._db = self._connect_reader(f"file:{self.path.resolve()}")

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise StoreError(f"no sealer-fsm database at {self.path}")
        try:
            version = identify(self.path, TASK_DATABASE)
        except OSError as error:
            raise storage_error(self.path, "read", error) from error
        if version != TASK_DATABASE.version:
            raise StoreError(f"{self.path} has schema version {version}; start the worker once to upgrade it")
        return self._connect_reader(f"file:{self.path.resolve()}?mode=ro")

    @staticmethod
    def _connect_reader(uri: str) -> sqlite3.Connection:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 5000")
        return db

    @classmethod
    def in_home(cls, home: str | Path, **options: Any) -> TaskStore:
        return cls(Path(home) / DATABASE_NAME, **options)

    def close(self) -> None:
        """Finish the writes already submitted, then close."""
        if self._writer is not None:
            self._writer.close()
        self._db.close()

    @property
    def commits(self) -> int:
        """Transactions committed so far by this instance (several writes may share one)."""
        return 0 if self._writer is None else self._writer.commits

    def _write(self, write: Any) -> Commit[Any]:
        if self._writer is None:
            raise StoreError(f"{self.path} is open read-only")
        return self._writer.submit(write)

    # -- writes: each returns a Commit resolving to the new record once it is on disk -------------------------

    def create_task(
        self,
        thread: int,
        plan: str,
        plan_path: str,
        state: str,
        at: float,
        *,
        plan_hash: str | None = None,
        pause: Pause | None = None,
    ) -> Commit[TaskRecord]:
        def write(db: sqlite3.Connection) -> TaskRecord:
            cursor = db.execute(
                "INSERT INTO tasks (thread, plan, plan_path, plan_hash, state, paused, paused_by, paused_at,"
                " pause_reason, created_at, state_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (thread, plan, plan_path, plan_hash, state, *_pause_columns(pause, at), at, at),
            )
            assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
            return _read_task(db, cursor.lastrowid)

        return self._write(write)

    def record(self, task: TaskRecord, change: Change) -> Commit[TaskRecord]:
        """Apply `change` to `task` and append its history row in one transaction."""
        moved = change.destination != change.source
        data = {**task.data, **change.data_updates}
        paused, paused_by, paused_at, pause_reason = _pause_columns(change.pause, change.at)
        updated = dataclasses.replace(
            task,
            state=change.destination,
            prev_state=change.source if moved else task.prev_state,
            retry=change.retry,
            paused=bool(paused),
            paused_by=paused_by,
            paused_at=paused_at,
            pause_reason=pause_reason,
            last_error=change.last_error,
            sector=task.sector if change.sector is None else change.sector,
            data=data,
            state_since=change.at if moved else task.state_since,
        )

        def write(db: sqlite3.Connection) -> TaskRecord:
            cursor = db.execute(
                "UPDATE tasks SET state = ?, prev_state = ?, retry = ?, paused = ?, paused_by = ?, paused_at = ?,"
                " pause_reason = ?, last_error = ?, sector = ?, data = ?, state_since = ?"
                " WHERE id = ? AND state = ? AND closed_at IS NULL",
                (
                    updated.state,
                    updated.prev_state,
                    updated.retry,
                    paused,
                    paused_by,
                    paused_at,
                    pause_reason,
                    updated.last_error,
                    updated.sector,
                    _DATA_ENCODER.encode(data),
                    updated.state_since,
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
            return updated

        return self._write(write)

    def update_control(
        self, task: TaskRecord, *, retry: int, pause: Pause | None, last_error: str | None, at: float
    ) -> Commit[TaskRecord]:
        """Persist the retry counter, the pause (who, when, why) and the last error, which change without a
        history row."""

        columns = _pause_columns(pause, at)
        updated = dataclasses.replace(
            task,
            retry=retry,
            paused=bool(columns[0]),
            paused_by=columns[1],
            paused_at=columns[2],
            pause_reason=columns[3],
            last_error=last_error,
        )

        def write(db: sqlite3.Connection) -> TaskRecord:
            db.execute(
                "UPDATE tasks SET retry = ?, paused = ?, paused_by = ?, paused_at = ?, pause_reason = ?,"
                " last_error = ? WHERE id = ?",
                (retry, *columns, last_error, task.id),
            )
            return updated

        return self._write(write)

    def save_data(self, task: TaskRecord, updates: dict[str, Any]) -> Commit[TaskRecord]:
        """Add task data without a state change (a step's note to itself, kept across a crash)."""
        updated = dataclasses.replace(task, data={**task.data, **updates})

        def write(db: sqlite3.Connection) -> TaskRecord:
            cursor = db.execute(
                "UPDATE tasks SET data = ? WHERE id = ? AND state = ? AND closed_at IS NULL",
                (_DATA_ENCODER.encode(updated.data), task.id, task.state),
            )
            if cursor.rowcount != 1:
                raise StaleTaskError(f"task {task.id} is no longer open in state {task.state!r}")
            return updated

        return self._write(write)

    def update_plan(self, task: TaskRecord, plan_hash: str) -> Commit[TaskRecord]:
        """Move a task that has not left its state to another plan version (a new attempt after Idle answers)."""

        def write(db: sqlite3.Connection) -> TaskRecord:
            cursor = db.execute(
                "UPDATE tasks SET plan_hash = ? WHERE id = ? AND state = ? AND closed_at IS NULL",
                (plan_hash, task.id, task.state),
            )
            if cursor.rowcount != 1:
                raise StaleTaskError(f"task {task.id} is no longer open in state {task.state!r}")
            return dataclasses.replace(task, plan_hash=plan_hash)

        return self._write(write)

    def close_task(self, task: TaskRecord, at: float) -> Commit[TaskRecord]:
        def write(db: sqlite3.Connection) -> TaskRecord:
            db.execute(
                "UPDATE tasks SET closed_at = ?, paused = 0, paused_by = NULL, paused_at = NULL,"
                " pause_reason = NULL WHERE id = ?",
                (at, task.id),
            )
            return dataclasses.replace(
                task, closed_at=at, paused=False, paused_by=None, paused_at=None, pause_reason=None
            )

        return self._write(write)

    def keep_plan(self, plan_hash: str, name: str, path: str, text: str) -> Commit[None]:
        """Keep a plan version's text, so the tasks that follow it can load it after the file changed."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO plans (hash, name, path, text) VALUES (?, ?, ?, ?)",
                (plan_hash, name, path, text),
            )

        return self._write(write)

    def defer(self, deferred: Deferred) -> Commit[None]:
        """Keep a call owed to another party until `settle_deferred`; a second one for the same key is ignored."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO deferred (key, kind, payload, created_at, attempts, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    deferred.key,
                    deferred.kind,
                    _DATA_ENCODER.encode(deferred.payload),
                    deferred.created_at,
                    deferred.attempts,
                    deferred.last_error,
                ),
            )

        return self._write(write)

    def settle_deferred(self, key: str) -> Commit[None]:
        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM deferred WHERE key = ?", (key,))

        return self._write(write)

    def deferred_failed(self, key: str, error: str) -> Commit[None]:
        def write(db: sqlite3.Connection) -> None:
            db.execute("UPDATE deferred SET attempts = attempts + 1, last_error = ? WHERE key = ?", (error, key))

        return self._write(write)

    # -- reading -----------------------------------------------------------------------------------------------

    def open_task(self, thread: int) -> TaskRecord | None:
        row = self._db.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE thread = ? AND closed_at IS NULL", (thread,)
        ).fetchone()
        return None if row is None else row_to_task(row)

    def task(self, task_id: int) -> TaskRecord:
        return _read_task(self._db, task_id)

    def tasks(self) -> list[TaskRecord]:
        return [row_to_task(row) for row in self._db.execute(f"SELECT {TASK_COLUMNS} FROM tasks ORDER BY id")]

    def tasks_for_sector(self, sector: str) -> list[TaskRecord]:
        rows = self._db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE sector = ? ORDER BY id", (sector,))
        return [row_to_task(row) for row in rows]

    def plan_text(self, plan_hash: str) -> str | None:
        row = self._db.execute("SELECT text FROM plans WHERE hash = ?", (plan_hash,)).fetchone()
        return None if row is None else str(row[0])

    def deferred(self) -> list[Deferred]:
        rows = self._db.execute(
            "SELECT key, kind, payload, created_at, attempts, last_error FROM deferred ORDER BY created_at, key"
        )
        return [Deferred(**{**dict(row), "payload": json.loads(row["payload"])}) for row in rows]

    def last_move(self, task_id: int) -> HistoryEntry | None:
        """The newest history row that changed the task's state (failures recorded in place are skipped)."""
        row = self._db.execute(
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE task_id = ? AND event IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (task_id,),
        ).fetchone()
        return None if row is None else HistoryEntry(*row)

    def history(self, task_id: int) -> list[HistoryEntry]:
        rows = self._db.execute(
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE task_id = ? ORDER BY seq", (task_id,)
        ).fetchall()
        return [HistoryEntry(*row) for row in rows]


def _read_task(db: sqlite3.Connection, task_id: int) -> TaskRecord:
    row = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise KeyError(task_id)
    return row_to_task(row)

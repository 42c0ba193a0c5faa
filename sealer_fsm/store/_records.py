"""The values the task store keeps and returns: a task row, a history row, and a change to apply."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskRecord:
    """A task as last committed. Writes return a new record; the one a caller holds never changes under it."""

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
    plan_hash: str | None = None  # the plan version the task follows (its text is in the plans table)
    paused_by: str | None = None  # who paused the task ("operator", "worker" for a failure), while paused
    paused_at: float | None = None
    pause_reason: str | None = None


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
class Pause:
    """Who paused a task, and why (the time is the change's)."""

    actor: str
    reason: str | None = None


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
    pause: Pause | None = None  # None: the task runs after this change
    last_error: str | None = None
    sector: str | None = None  # the sector the task holds from now on; None leaves it as it was


@dataclass(frozen=True)
class Deferred:
    """A call the worker owes another party (say, ReportAborted), kept until a retry of it succeeds."""

    key: str  # one pending call per key: deferring the same key again keeps the first
    kind: str  # which handler makes the call
    payload: dict[str, Any]
    created_at: float
    attempts: int = 0
    last_error: str | None = None


TASK_COLUMNS = (
    "id, thread, plan, plan_path, state, prev_state, retry, paused, last_error, sector, data, created_at,"
    " state_since, closed_at, plan_hash, paused_by, paused_at, pause_reason"
)
HISTORY_COLUMNS = "seq, task_id, at, from_state, event, to_state, failure, actor, reason, payload"


def row_to_task(row: sqlite3.Row) -> TaskRecord:
    values = dict(row)
    values["paused"] = bool(values["paused"])
    values["data"] = json.loads(values["data"])
    return TaskRecord(**values)

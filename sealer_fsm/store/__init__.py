"""Durable task state: the SQLite task table and its append-only history, written by one group-committing thread.

Also the database habits every database of a worker shares: WAL connections, explicit transactions, and the
identity check that refuses a file that is not ours (`DatabaseKind`, `open_database`).
"""

from sealer_fsm.store._connection import connect_wal, immediate_transaction
from sealer_fsm.store._errors import StaleTaskError, StoreError, StoreUnavailable, free_space, storage_error
from sealer_fsm.store._identity import DatabaseKind, open_database, register_kind
from sealer_fsm.store._records import Change, Deferred, HistoryEntry, Pause, TaskRecord
from sealer_fsm.store._sqlite import DATABASE_NAME, TaskStore
from sealer_fsm.store._writer import Commit, Writer

__all__ = [
    "DATABASE_NAME",
    "Change",
    "Commit",
    "DatabaseKind",
    "Deferred",
    "HistoryEntry",
    "Pause",
    "StaleTaskError",
    "StoreError",
    "StoreUnavailable",
    "TaskRecord",
    "TaskStore",
    "Writer",
    "connect_wal",
    "free_space",
    "immediate_transaction",
    "open_database",
    "register_kind",
    "storage_error",
]

"""Durable task state: the SQLite task table and its append-only history."""

from sealer_fsm.store._connection import connect_wal, immediate_transaction
from sealer_fsm.store._sqlite import (
    DATABASE_NAME,
    Change,
    HistoryEntry,
    StaleTaskError,
    StoreError,
    TaskRecord,
    TaskStore,
)

__all__ = [
    "DATABASE_NAME",
    "Change",
    "HistoryEntry",
    "StaleTaskError",
    "StoreError",
    "TaskRecord",
    "TaskStore",
    "connect_wal",
    "immediate_transaction",
]

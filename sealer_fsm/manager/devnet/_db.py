"""The devnet's own SQLite database (`devnet.db` in the worker's home): its chain and what it knows of sectors.

Kept apart from the worker's task store on purpose: the manager is another party, and a test or an operator can
compare the two (did the worker and the chain agree on every sector?).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sealer_fsm.store import DatabaseKind, immediate_transaction, open_database, register_kind

DATABASE_NAME = "devnet.db"

_SCHEMA = """
CREATE TABLE chain (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sectors (
    number INTEGER PRIMARY KEY,
    miner INTEGER NOT NULL,
    sector_size INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'allocated',  -- allocated | proven | finalized | aborted
    deals TEXT,                                -- JSON list of deal ids; NULL until deals were acquired
    ticket TEXT, ticket_epoch INTEGER,
    comm_d TEXT, comm_r TEXT,
    precommit_epoch INTEGER, precommit_attempts INTEGER NOT NULL DEFAULT 0, precommit_outcome TEXT,
    persisted TEXT,
    seed_epoch INTEGER,
    proof TEXT, proof_epoch INTEGER, proof_attempts INTEGER NOT NULL DEFAULT 0, proof_outcome TEXT,
    latest_state TEXT,
    abort_reason TEXT,
    snapup TEXT,                               -- NULL | allocated | upgraded | aborted
    snap_deals TEXT, snap_comm_r TEXT, snap_attempts INTEGER NOT NULL DEFAULT 0
    -- and the _ADDED_COLUMNS below
);
CREATE TABLE deals (
    deal_id INTEGER PRIMARY KEY,
    sector INTEGER NOT NULL,
    piece_cid TEXT NOT NULL,
    piece_size INTEGER NOT NULL,
    payload_size INTEGER NOT NULL
);
CREATE INDEX deals_by_cid ON deals (piece_cid);
CREATE TABLE submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch INTEGER NOT NULL,
    sector INTEGER NOT NULL,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT
);
"""

# Columns added since devnet.db was first written; a database from before gets them when it is opened.
_ADDED_COLUMNS = (
    # 1 once a poll told the worker that the latest pre-commit (proof) attempt failed on chain: only then is
    # the next submission a new attempt; until then an identical one is a retry, answered DuplicateSubmit.
    ("sectors", "precommit_failure_seen", "INTEGER NOT NULL DEFAULT 0"),
    ("sectors", "proof_failure_seen", "INTEGER NOT NULL DEFAULT 0"),
    # The accepted snapup submission (CommR, CommD, pieces, proof), to tell a retry from a different one.
    ("sectors", "snap_submission", "TEXT"),
)


# Version 2: the request id of each allocation, so a repeated request is answered with the same sector.
_TO_VERSION_2 = """
ALTER TABLE sectors ADD COLUMN request_id TEXT;
ALTER TABLE sectors ADD COLUMN snap_request_id TEXT;
CREATE UNIQUE INDEX sectors_by_request ON sectors (request_id);
CREATE UNIQUE INDEX sectors_by_snap_request ON sectors (snap_request_id);
"""


def _legacy_version(db: sqlite3.Connection, tables: set[str]) -> int | None:
    """Version 1 devnet databases were not stamped; they are the ones with the chain's four tables."""
    return 1 if {"chain", "sectors", "deals", "submissions"} <= tables else None


DEVNET_DATABASE = register_kind(
    DatabaseKind(
        name="the devnet's chain database",
        application_id=int.from_bytes(b"sFDn", "big"),
        version=2,
        schema=_SCHEMA + _TO_VERSION_2,
        upgrades={1: _TO_VERSION_2},
        legacy_version=_legacy_version,
    )
)


class DevnetDatabase:
    def __init__(self, path: Path) -> None:
        """Opens (or creates) the devnet's database; StoreError in one sentence for a file that is not one."""
        self._db = open_database(path, DEVNET_DATABASE)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        with self.transaction() as db:
            for table, column, declaration in _ADDED_COLUMNS:
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db)

    def chain_value(self, key: str, default: str) -> str:
        """A chain parameter, stored on first use so that a restart continues the same chain."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO chain (key, value) VALUES (?, ?)", (key, default))
            return str(db.execute("SELECT value FROM chain WHERE key = ?", (key,)).fetchone()["value"])

    def next_counter(self, key: str) -> int:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO chain (key, value) VALUES (?, '0')", (key,))
            value = int(db.execute("SELECT value FROM chain WHERE key = ?", (key,)).fetchone()["value"]) + 1
            db.execute("UPDATE chain SET value = ? WHERE key = ?", (str(value), key))
            return value

    def sector(self, number: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute("SELECT * FROM sectors WHERE number = ?", (number,)).fetchone()
        return row

    def sectors(self) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM sectors ORDER BY number").fetchall()

    def allocate(self, request_id: str | None, miner: int, sector_size: int) -> sqlite3.Row:
        """The sector allocated for `request_id` (a new one, numbered from the counter, the first time), in one
        transaction so that a crash never leaves a number used without its sector or a request answered twice."""
        with self.transaction() as db:
            if request_id is not None:
                row: sqlite3.Row | None = db.execute(
                    "SELECT * FROM sectors WHERE request_id = ?", (request_id,)
                ).fetchone()
                if row is not None:
                    return row
            db.execute("INSERT OR IGNORE INTO chain (key, value) VALUES ('sector_number', '0')")
            number = int(db.execute("SELECT value FROM chain WHERE key = 'sector_number'").fetchone()["value"]) + 1
            db.execute("UPDATE chain SET value = ? WHERE key = 'sector_number'", (str(number),))
            db.execute(
                "INSERT INTO sectors (number, miner, sector_size, request_id) VALUES (?, ?, ?, ?)",
                (number, miner, sector_size, request_id),
            )
            allocated: sqlite3.Row = db.execute("SELECT * FROM sectors WHERE number = ?", (number,)).fetchone()
            return allocated

    def snapup_for_request(self, request_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM sectors WHERE snap_request_id = ?", (request_id,)
        ).fetchone()
        return row

    def update_sector(self, number: int, **columns: Any) -> None:
        with self.transaction() as db:
            _update(db, number, columns)

    def first_snapup_candidate(self) -> sqlite3.Row | None:
        """The oldest finalized committed-capacity sector not yet offered for an upgrade (no deals: none were
        made for it, or the worker never asked, its deals being disabled)."""
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM sectors WHERE status = 'finalized' AND (deals IS NULL OR deals = '[]') AND snapup IS NULL"
            " AND persisted IS NOT NULL ORDER BY number LIMIT 1"
        ).fetchone()
        return row

    def insert_deal(self, deal_id: int, sector: int, piece_cid: str, piece_size: int, payload_size: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO deals (deal_id, sector, piece_cid, piece_size, payload_size) VALUES (?, ?, ?, ?, ?)",
                (deal_id, sector, piece_cid, piece_size, payload_size),
            )

    def deals(self, deal_ids: list[int]) -> list[sqlite3.Row]:
        rows = {
            row["deal_id"]: row
            for row in self._db.execute(
                f"SELECT * FROM deals WHERE deal_id IN ({', '.join('?' * len(deal_ids))})", deal_ids
            ).fetchall()
        }
        return [rows[deal_id] for deal_id in deal_ids]

    def deal_by_cid(self, piece_cid: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute("SELECT * FROM deals WHERE piece_cid = ?", (piece_cid,)).fetchone()
        return row

    def record_submission(
        self, epoch: int, sector: int, kind: str, result: str, detail: str, changes: dict[str, Any]
    ) -> None:
        """Log a submission and apply what it changes to the sector, in one transaction."""
        with self.transaction() as db:
            _update(db, sector, changes)
            db.execute(
                "INSERT INTO submissions (epoch, sector, kind, result, detail) VALUES (?, ?, ?, ?, ?)",
                (epoch, sector, kind, result, detail),
            )

    def submissions(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM submissions ORDER BY seq").fetchall()
        return [dict(row) for row in rows]


def _update(db: sqlite3.Connection, number: int, columns: dict[str, Any]) -> None:
    if columns:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.execute(f"UPDATE sectors SET {assignments} WHERE number = ?", (*columns.values(), number))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)

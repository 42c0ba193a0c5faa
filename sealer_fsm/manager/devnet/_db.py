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


# Version 3: the last WorkerPing of each worker (`devnet serve`), and the operator's requests (`sealer-fsm devnet
# rebuild`, `devnet unseal`) with how the worker's rebuild and unseal threads served them.
_TO_VERSION_3 = """
CREATE TABLE workers (
    name TEXT PRIMARY KEY,
    dest TEXT NOT NULL,
    version TEXT NOT NULL,
    summary TEXT NOT NULL,                  -- JSON: threads, empty, paused, running, waiting, errors
    last_ping INTEGER NOT NULL              -- Unix seconds
);
CREATE TABLE rebuilds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sector INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',  -- queued | allocated | finished | aborted
    request_id TEXT UNIQUE,                 -- the allocation request that took it
    instance TEXT,                          -- the store the rebuilt files were persisted into
    detail TEXT                             -- why it was aborted
);
CREATE TABLE unseals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sector INTEGER NOT NULL,
    piece_cid TEXT NOT NULL,
    dests TEXT NOT NULL,                    -- JSON list of destination URLs
    status TEXT NOT NULL DEFAULT 'queued',  -- queued | unsealing | uploading | finished | failed
    request_id TEXT UNIQUE,
    error TEXT
);
"""
REBUILD_PENDING = ("queued", "allocated")
UNSEAL_PENDING = ("queued", "unsealing", "uploading")


def _legacy_version(db: sqlite3.Connection, tables: set[str]) -> int | None:
    """Version 1 devnet databases were not stamped; they are the ones with the chain's four tables."""
    return 1 if {"chain", "sectors", "deals", "submissions"} <= tables else None


DEVNET_DATABASE = register_kind(
    DatabaseKind(
        name="the devnet's chain database",
        application_id=int.from_bytes(b"sFDn", "big"),
        version=3,
        schema=_SCHEMA + _TO_VERSION_2 + _TO_VERSION_3,
        upgrades={1: _TO_VERSION_2, 2: _TO_VERSION_3},
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
        made for it, or the worker never asked, its deals being disabled) whose replica is not lost (waiting for
        a rebuild)."""
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM sectors WHERE status = 'finalized' AND (deals IS NULL OR deals = '[]') AND snapup IS NULL"
            " AND persisted IS NOT NULL"
            " AND number NOT IN (SELECT sector FROM rebuilds WHERE status IN ('queued', 'allocated'))"
            " ORDER BY number LIMIT 1"
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

    def record_ping(self, name: str, dest: str, version: str, summary: dict[str, int], at: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO workers (name, dest, version, summary, last_ping) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET dest = excluded.dest, version = excluded.version,"
                " summary = excluded.summary, last_ping = excluded.last_ping",
                (name, dest, version, dumps(summary), at),
            )

    def pings(self) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM workers ORDER BY name").fetchall()

    def submissions(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM submissions ORDER BY seq").fetchall()
        return [dict(row) for row in rows]

    # -- rebuild and unseal requests -------------------------------------------------------------------------

    def insert_rebuild(self, sector: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO rebuilds (sector) VALUES (?)", (sector,))

    def rebuilds(self, sector: int) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM rebuilds WHERE sector = ? ORDER BY seq", (sector,)).fetchall()

    def pending_rebuild(self, sector: int) -> sqlite3.Row | None:
        """The sector's rebuild that is queued or being served, if any (there is at most one)."""
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM rebuilds WHERE sector = ? AND status IN (?, ?)", (sector, *REBUILD_PENDING)
        ).fetchone()
        return row

    def take_rebuild(self, request_id: str | None) -> sqlite3.Row | None:
        """The rebuild given to `request_id` already, else the oldest queued one, now allocated to it."""
        with self.transaction() as db:
            return _take(db, "rebuilds", "allocated", request_id, "")

    def update_rebuild(self, seq: int, **columns: Any) -> None:
        with self.transaction() as db:
            _update_request(db, "rebuilds", seq, columns)

    def queue_unseal(self, sector: int, piece_cid: str, dest: str) -> sqlite3.Row:
        """A new unseal request, or `dest` added to the one still queued for the same piece (as the reference's
        manager does); a piece being unsealed takes no new destination (ValueError)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM unseals WHERE sector = ? AND piece_cid = ? AND status IN (?, ?, ?)",
                (sector, piece_cid, *UNSEAL_PENDING),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO unseals (sector, piece_cid, dests) VALUES (?, ?, ?)",
                    (sector, piece_cid, dumps([dest])),
                )
            elif row["status"] != "queued":
                raise ValueError(
                    f"piece {piece_cid} is being unsealed ({row['status']}); add a destination once that is over"
                )
            elif dest not in json.loads(row["dests"]):
                _update_request(db, "unseals", row["seq"], {"dests": dumps([*json.loads(row["dests"]), dest])})
            queued: sqlite3.Row = db.execute(
                "SELECT * FROM unseals WHERE sector = ? AND piece_cid = ? ORDER BY seq DESC LIMIT 1",
                (sector, piece_cid),
            ).fetchone()
            return queued

    def unseals(self, sector: int) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM unseals WHERE sector = ? ORDER BY seq", (sector,)).fetchall()

    def take_unseal(self, request_id: str | None) -> sqlite3.Row | None:
        """The unseal given to `request_id` already, else the oldest queued one whose sector is not waiting for a
        rebuild (its replica is lost until then), now being unsealed for it."""
        waiting = "AND sector NOT IN (SELECT sector FROM rebuilds WHERE status IN ('queued', 'allocated'))"
        with self.transaction() as db:
            return _take(db, "unseals", "unsealing", request_id, waiting)

    def unseal_in_progress(self, sector: int, piece_cid: str) -> sqlite3.Row | None:
        """The unseal of this piece a worker is serving (unsealing or uploading), or the last one it finished."""
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM unseals WHERE sector = ? AND piece_cid = ? AND status != 'queued' ORDER BY seq DESC",
            (sector, piece_cid),
        ).fetchone()
        return row

    def update_unseal(self, seq: int, **columns: Any) -> None:
        with self.transaction() as db:
            _update_request(db, "unseals", seq, columns)


def _take(
    db: sqlite3.Connection, table: str, status: str, request_id: str | None, condition: str
) -> sqlite3.Row | None:
    """Allocate a queued request of `table` (rebuilds, unseals) to `request_id`, oldest first; a request id that
    already took one gets that one again, so a worker that lost the reply is not given a second request."""
    if request_id is not None:
        given: sqlite3.Row | None = db.execute(f"SELECT * FROM {table} WHERE request_id = ?", (request_id,)).fetchone()
        if given is not None:
            return given
    query = f"SELECT * FROM {table} WHERE status = 'queued' {condition} ORDER BY seq LIMIT 1"
    row: sqlite3.Row | None = db.execute(query).fetchone()
    if row is None:
        return None
    _update_request(db, table, row["seq"], {"status": status, "request_id": request_id})
    taken: sqlite3.Row = db.execute(f"SELECT * FROM {table} WHERE seq = ?", (row["seq"],)).fetchone()
    return taken


def _update_request(db: sqlite3.Connection, table: str, seq: int, columns: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    db.execute(f"UPDATE {table} SET {assignments} WHERE seq = ?", (*columns.values(), seq))


def _update(db: sqlite3.Connection, number: int, columns: dict[str, Any]) -> None:
    if columns:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        db.execute(f"UPDATE sectors SET {assignments} WHERE number = ?", (*columns.values(), number))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)

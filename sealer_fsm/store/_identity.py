"""Which SQLite file is whose: a database is adopted only when it is ours and of a version we read.

Each kind of database this project writes (the worker's task store, the devnet's chain) stamps its SQLite header
with its own `application_id` and its schema version in `user_version`. Opening checks both before anything is
written: a foreign database, an empty file, the other kind of database, a damaged file or one from a newer
version is refused in one sentence naming the file, and only a missing file starts a new database. A new
database is created under a temporary name and renamed into place once its schema is committed, so a crash
during creation never leaves a half-made file that would later be refused.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sealer_fsm.store._connection import connect_wal
from sealer_fsm.store._errors import StoreError, storage_error

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class DatabaseKind:
    """One kind of database: how to recognise it, create it, and bring an older one up to date."""

    name: str  # said in refusals: "the worker's task database"
    application_id: int
    version: int
    schema: str  # creates a database of `version`
    # upgrades[v] turns a database of version v into v + 1 (run in one transaction with the version bump)
    upgrades: Mapping[int, str] = field(default_factory=dict)
    # the version of a database written before the header was stamped, told from its tables (None: not ours)
    legacy_version: Callable[[sqlite3.Connection, set[str]], int | None] = lambda db, tables: None


_KNOWN_KINDS: dict[int, DatabaseKind] = {}


def register_kind(kind: DatabaseKind) -> DatabaseKind:
    """Make `kind` known, so that a database of it opened as another kind is refused by name."""
    _KNOWN_KINDS[kind.application_id] = kind
    return kind


def open_database(path: Path, kind: DatabaseKind, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A writable connection to `path`: created when missing, upgraded when older; refused (StoreError) otherwise."""
    try:
        if not path.exists() and not path.is_symlink():
            _refuse_orphan_journal(path)
            _create(path, kind)
        version = identify(path, kind)
        db = connect_wal(path)
        db.execute(f"PRAGMA synchronous = {synchronous}")
        if version < kind.version:
            _upgrade(db, kind, version)
        else:
            # Rewrite the version it already has: a file that refuses writes is refused now, not at the first step.
            db.executescript(f"BEGIN IMMEDIATE; PRAGMA user_version = {version}; COMMIT;")
        return db
    except sqlite3.Error as error:
        raise storage_error(path, "open", error) from error
    except OSError as error:
        raise storage_error(path, "open", error) from error


def identify(path: Path, kind: DatabaseKind) -> int:
    """The schema version of `path` if it is a database of `kind`; StoreError with one sentence if it is not."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not {kind.name}")
    with path.open("rb") as file:
        header = file.read(100)
    if not header:
        raise StoreError(
            f"{path} is an empty file, not {kind.name}; remove it to start a new database (only a missing file does)"
        )
    if not header.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is not an SQLite database, so not {kind.name}")
    db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        version = _version_of(db, path, kind)
        damage = db.execute("PRAGMA quick_check").fetchone()[0]
        if damage != "ok":
            raise StoreError(f"{path} is damaged ({damage}); restore it from a backup or move it away")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path} is damaged or not {kind.name} ({error})") from error
    finally:
        db.close()
    if version > kind.version:
        raise StoreError(
            f"{path} was written by a newer sealer-fsm (schema version {version}; this one reads up to"
            f" {kind.version})"
        )
    return version


def _version_of(db: sqlite3.Connection, path: Path, kind: DatabaseKind) -> int:
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    if application_id == kind.application_id:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if application_id == 0:
        legacy = kind.legacy_version(db, tables)
        if legacy is not None:
            return legacy
    owner = _KNOWN_KINDS.get(application_id)
    if application_id == 0:
        owner = next((other for other in _KNOWN_KINDS.values() if other.legacy_version(db, tables) is not None), None)
    if owner is not None:
        raise StoreError(f"{path} is {owner.name}, not {kind.name}")
    listed = ", ".join(sorted(tables)) or "none"
    raise StoreError(f"{path} is not {kind.name} (application id {application_id}, tables: {listed})")


def _refuse_orphan_journal(path: Path) -> None:
    """A write-ahead log without its database would be replayed into a new one: refuse instead."""
    for suffix in ("-wal", "-journal"):
        journal = path.with_name(path.name + suffix)
        if journal.exists():
            raise StoreError(f"{journal} exists but {path} does not; move the journal away to start a new database")


def _create(path: Path, kind: DatabaseKind) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    for leftover in (temporary, *(temporary.with_name(temporary.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    db = sqlite3.connect(temporary, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(
            f"BEGIN IMMEDIATE; {kind.schema}"
            f" PRAGMA application_id = {kind.application_id}; PRAGMA user_version = {kind.version}; COMMIT;"
        )
    finally:
        db.close()  # checkpoints the log into the file and removes it
    with temporary.open("rb") as file:
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _upgrade(db: sqlite3.Connection, kind: DatabaseKind, version: int) -> None:
    """Bring a database from `version` to the current one, in one transaction."""
    script = "".join(kind.upgrades[step] for step in range(version, kind.version))
    db.executescript(
        f"BEGIN IMMEDIATE; {script}"
        f" PRAGMA application_id = {kind.application_id}; PRAGMA user_version = {kind.version}; COMMIT;"
    )

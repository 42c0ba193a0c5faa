"""What the store says when it cannot do its job: one sentence naming the file, and whether waiting helps."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from sealer_fsm.units import format_size

# SQLite result codes (the low byte of an extended code) that mean the disk, not the data, is at fault.
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 10, 8, 14
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


class StoreError(RuntimeError):
    """The database cannot be used (not ours, damaged, from a newer version); the message is one sentence."""


class StoreUnavailable(StoreError):
    """The disk under the database refuses writes now (full, read-only, I/O error): retrying later may work."""


class StaleTaskError(RuntimeError):
    """The task was not in the state the writer expected: someone else moved it first."""


def free_space(path: Path) -> str:
    """The free space of the file system holding `path` (or its nearest existing parent), for messages."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return format_size(shutil.disk_usage(probe).free)
    except OSError:
        return "unknown"


def storage_error(path: Path, operation: str, error: sqlite3.Error | OSError) -> StoreError:
    """`error`, met while doing `operation` on `path`, as a one-sentence StoreError (StoreUnavailable when the
    disk rather than the data is at fault)."""
    if isinstance(error, StoreError):
        return error
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        unavailable = error.errno in _STORAGE_ERRNOS
    else:
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        reason = str(error)
        unavailable = code in (_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN)
    if unavailable:
        return StoreUnavailable(f"cannot {operation} {path}: {reason} ({free_space(path)} free on its file system)")
    return StoreError(f"cannot {operation} {path}: {reason}")

"""A lock file that names its holder: one worker per home, one devnet server per devnet home.

`flock` on an open file: the OS drops the lock when the process dies (even by SIGKILL), so a stale file never
blocks a restart, and the file holds the pid of the live holder for the message a second process prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO


class LockHeld(Exception):
    """Another live process holds the lock; `holder` is its pid as it wrote it ("unknown" if it wrote none)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def hold_pid_lock(path: Path) -> TextIO:
    """Lock `path` exclusively for as long as the returned file stays open, writing this process's pid into it.
    Raises LockHeld at once when another process holds it, and OSError when the file cannot be opened."""
    lock = path.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise LockHeld(holder) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock

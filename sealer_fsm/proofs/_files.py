"""Files the proofs write whole or not at all: parent caches and SDR layers.

A file is built under `<name>.tmp`: its space is reserved first (so that a full disk is an OSError here, not
a SIGBUS when C code writes into the mapping), it is filled through a shared mapping, flushed, synced, and only
then renamed to its real name. Whatever stops it (an error, a cancel, a kill) leaves no file under the real
name, and the next attempt starts by replacing the temporary one.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sealer_fsm.proofs._cancel import Cancelled, CancelToken

T = TypeVar("T")
_LOCK_POLL_SECONDS = 0.05


def write_mapped(path: Path, size: int, fill: Callable[[mmap.mmap], T], what: str) -> T:
    """Create `path` (`size` bytes) with `fill`, through `<name>.tmp`; returns what `fill` returns.

    An OSError comes back naming `what` and the temporary file; any failure removes the temporary file."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb+") as file:
            os.posix_fallocate(file.fileno(), 0, size)
            with mmap.mmap(file.fileno(), size) as data:
                result = fill(data)
                data.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
        sync_folder(path.parent)
        return result
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(error.errno, f"cannot write the {what} {temporary}: {error.strerror or error}") from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def exclusive_lock(path: Path, cancel: CancelToken | None, what: str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) for the block, so that one thread or process at
    a time writes what it guards. Waits for another holder, polling so that `cancel` can interrupt."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OSError(error.errno, f"cannot write in the {what} folder {path.parent}: {error.strerror}") from error
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(f"waiting for another writer of the {what} folder {path.parent}") from None
                time.sleep(_LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(descriptor)  # releases the lock

"""Files the proofs write whole or not at all: parent caches and SDR layers.

A file is built under `<name>.tmp`: its space is reserved first (so that a full disk is an OSError here, not
a SIGBUS when C code writes into the mapping), it is filled through a shared mapping, flushed, synced, and only
then renamed to its real name. Whatever stops it (an error, a cancel, a kill) leaves no file under the real
name, and the next attempt starts by replacing the temporary one.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


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

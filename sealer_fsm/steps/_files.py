"""A sector's files, and file work as steps must do it: errors as failures that say what, where and how bad.

Every step writes through these helpers, so a file error never reaches the runtime as a bare `OSError` (once a
`critical: ... crashed: FileNotFoundError(2, ...)` with no path). Instead:

- the failure names the operation and the path (and, when space ran out, how much is left where);
- its level follows the cause: no space, I/O and other transient errors are Temporary (retried after
  `recover_interval`, as space may be freed or a mount come back), a missing input and everything an operator
  must fix (permissions, a read-only file system, a wrong kind of file) are Permanent;
- a partial file (`*.tmp`, in the thread's directories or in a store) is removed when its writing fails.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.runtime import Permanent, StepContext, StepFailure, Temporary

# Causes that time (freed space, a mount back, fewer open files) may cure: retried before the thread pauses.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC", "EDQUOT", "EIO", "EAGAIN", "EBUSY", "ETIMEDOUT", "ESTALE", "EINTR", "ENOMEM", "EMFILE", "ENFILE",
        "ENOLCK", "ECONNRESET", "ECONNABORTED", "EHOSTDOWN", "EHOSTUNREACH", "ENETDOWN", "ENETUNREACH", "EREMOTEIO",
    )
    if hasattr(errno, name)
)  # fmt: skip
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
SECTOR_KINDS = ("unsealed", "sealed", "cache", "update", "update-cache")


def file_failure(error: OSError, operation: str, writing: Path | None = None) -> StepFailure:
    """The step failure for `error` met while doing `operation` (a phrase naming its paths, "copy A to B").

    `writing` is where the operation puts data: when space ran out, the message says how much is left there."""
    reason = _reason(error)
    if error.errno == errno.ENOENT:  # a missing input: running again will not bring it back
        reason = f"{error.filename or 'a file'} is missing ({reason})"
    elif error.filename is not None and str(error.filename) not in operation:
        reason = f"{reason} ({error.filename})"
    if error.errno in _NO_SPACE and writing is not None:
        reason = f"{reason}; {free_space(writing)}"
    message = f"{operation}: {reason}".replace("\n", " ")
    return Temporary(message) if error.errno in TRANSIENT_ERRNOS else Permanent(message)


def _reason(error: OSError) -> str:
    """The error in words; for a failed `copytree`, the first file that failed and why."""
    if isinstance(error, shutil.Error) and error.args and isinstance(error.args[0], list) and error.args[0]:
        source, _, why = error.args[0][0]
        more = len(error.args[0]) - 1
        return f"{why} ({source})" + (f" and {more} more" if more else "")
    return error.strerror or str(error) or type(error).__name__


def free_space(path: Path) -> str:
    """ "12.5 MiB free in /store" for the file system holding `path` (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return f"free space in {probe} unknown"
    return f"{_approximate_size(free)} free in {probe}"


def _approximate_size(size: int) -> str:
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"


@contextmanager
def file_errors(operation: str, *, writing: Path | None = None, partial: tuple[Path, ...] = ()) -> Iterator[None]:
    """Do file work as a step must: an OSError becomes `file_failure`, and the `partial` paths (temporary files
    being written) are removed if the work fails in any way, a cancellation included."""
    try:
        yield
    except BaseException as error:
        for path in partial:
            with suppress(OSError):
                _remove(path)
        if isinstance(error, OSError):
            raise file_failure(error, operation, writing) from error
        raise


def temporary_name(path: Path) -> Path:
    """Where `path` is written before it is renamed into place (`<name>.tmp`, beside it)."""
    return path.with_name(path.name + ".tmp")


def remove_path(path: Path) -> None:
    """Remove a file, a link or a whole directory; nothing there is fine."""
    with file_errors(f"remove {path}"):
        _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def copy_file_atomically(source: Path, destination: Path) -> None:
    """Copy through a temporary name so a crash never leaves a half-written file under the real name."""
    temporary = temporary_name(destination)
    with file_errors(f"copy {source} to {destination}", writing=destination, partial=(temporary,)):
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, temporary)
        os.replace(temporary, destination)


def copy_tree_atomically(source: Path, destination: Path, keep: Callable[[str], bool] | None = None) -> None:
    """Replace `destination` with a copy of directory `source` (only the files whose name `keep` accepts, if
    given); a rerun after a crash starts over cleanly."""
    temporary = temporary_name(destination)
    ignore = None if keep is None else lambda _folder, names: [name for name in names if not keep(name)]
    with file_errors(f"copy {source} to {destination}", writing=destination, partial=(temporary,)):
        _remove(temporary)
        shutil.copytree(source, temporary, ignore=ignore)
        _remove(destination)
        os.replace(temporary, destination)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary name (all or nothing under the real name)."""
    temporary = temporary_name(path)
    with file_errors(f"write {path}", writing=path, partial=(temporary,)):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)


@dataclass(frozen=True)
class SectorFiles:
    """A sector's files under a directory, in the reference's layout (`data/` of a thread, or a persist store)."""

    root: Path
    name: str

    @classmethod
    def of(cls, ctx: StepContext) -> SectorFiles:
        """The files of the task's sector in the thread's own `data/` directory."""
        return cls(ctx.location / "data", ctx.require("sector_id"))

    def path(self, kind: str) -> Path:
        """`kind` is one of unsealed, sealed, cache, update, update-cache."""
        return self.root / kind / self.name

    @property
    def unsealed(self) -> Path:
        return self.path("unsealed")

    @property
    def sealed(self) -> Path:
        return self.path("sealed")

    @property
    def cache(self) -> Path:
        return self.path("cache")

    def prepare(self) -> None:
        with file_errors(f"create the sector directories in {self.root}", writing=self.root):
            for kind in SECTOR_KINDS:
                (self.root / kind).mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Remove every file of this sector, partial ones included; safe to repeat."""
        with file_errors(f"remove the files of {self.name} from {self.root}"):
            for kind in SECTOR_KINDS:
                _remove(self.path(kind))
                _remove(temporary_name(self.path(kind)))

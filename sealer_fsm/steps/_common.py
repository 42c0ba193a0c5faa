"""What every step family needs: the sector manager, the sector's id and files, and manager calls as failures.

A manager call that fails is Temporary (the reference's `call_rpc!`): the runtime retries the step after
`recover_interval`, and steps are written so that running again is safe. A manager that no longer knows the
sector (SectorStateNotFound, the reference's error 11001) aborts the task, as the reference does.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sealer_fsm.config import SealingConfig
from sealer_fsm.manager import ManagerError, SectorId, SectorManager, SectorStateNotFound
from sealer_fsm.runtime import AbortTask, Permanent, StepContext, Temporary
from sealer_fsm.units import parse_size

T = TypeVar("T")


def manager(ctx: StepContext) -> SectorManager:
    return ctx.manager


def sector_id(ctx: StepContext) -> SectorId:
    return SectorId.parse(ctx.require("sector_id"))


async def call(what: str, request: Awaitable[T]) -> T:
    """Await a manager request; a manager error becomes a Temporary failure naming the call, an unknown sector
    an abort."""
    try:
        return await request
    except SectorStateNotFound as error:
        raise AbortTask(f"{what}: {error}") from error
    except ManagerError as error:
        raise Temporary(f"{what}: {error}") from error


def allowed_sizes(sealing: SealingConfig) -> list[int] | None:
    return None if sealing.allowed_sizes is None else [parse_size(size) for size in sealing.allowed_sizes]


def store_path(ctx: StepContext, name: str) -> Path:
    """The local directory of the attached store the manager named; unknown to this worker is Permanent."""
    stores = ctx.stores
    if name not in stores:
        known = ", ".join(sorted(stores)) or "none"
        raise Permanent(
            f"store {name!r} chosen by the sector manager is not attached to this worker (attached: {known})"
        )
    return stores[name]


@dataclass(frozen=True)
class SectorFiles:
    """A sector's files under a directory, in the reference's layout (`data/` of a thread, or a persist store)."""

    root: Path
    name: str

    @classmethod
    def of(cls, ctx: StepContext) -> SectorFiles:
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
        for kind in ("unsealed", "sealed", "cache", "update", "update-cache"):
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Remove every file of this sector; safe to repeat."""
        for kind in ("unsealed", "sealed", "cache", "update", "update-cache"):
            remove_path(self.path(kind))
            remove_path(self.path(kind).with_name(self.name + ".tmp"))


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def copy_file_atomically(source: Path, destination: Path) -> None:
    """Copy through a temporary name so a crash never leaves a half-written file under the real name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".tmp")
    shutil.copyfile(source, temporary)
    temporary.replace(destination)


def copy_tree_atomically(source: Path, destination: Path) -> None:
    """Replace `destination` with a copy of directory `source`; a rerun after a crash starts over cleanly."""
    temporary = destination.with_name(destination.name + ".tmp")
    remove_path(temporary)
    shutil.copytree(source, temporary)
    remove_path(destination)
    temporary.replace(destination)

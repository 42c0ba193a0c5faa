"""What every step family needs: the sector manager, the sector's id and files, and manager calls as failures.

A manager call that fails is Temporary (the reference's `call_rpc!`): the runtime retries the step after
`recover_interval`, and steps are written so that running again is safe. A manager that no longer knows the
sector (SectorStateNotFound, the reference's error 11001) aborts the task, as the reference does. File work goes
through the helpers of `_files` (re-exported here), which turn file errors into failures naming the path,
classed by cause.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from sealer_fsm.config import SealingConfig
from sealer_fsm.manager import ManagerError, SectorId, SectorManager, SectorStateNotFound
from sealer_fsm.runtime import AbortTask, Permanent, StepContext, Temporary
from sealer_fsm.steps._files import (
    SectorFiles,
    copy_file_atomically,
    copy_tree_atomically,
    file_errors,
    file_failure,
    free_space,
    remove_path,
    temporary_name,
    write_file_atomically,
)
from sealer_fsm.units import parse_size

__all__ = [
    "SectorFiles",
    "access_store_path",
    "allowed_sizes",
    "call",
    "copy_file_atomically",
    "copy_tree_atomically",
    "file_errors",
    "file_failure",
    "free_space",
    "manager",
    "remove_path",
    "sector_id",
    "store_path",
    "temporary_name",
    "write_file_atomically",
]

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
    """The local directory of the writable store the manager chose to persist into; a store this worker does
    not have, or has read-only, is Permanent (persisting only ever goes into writable stores)."""
    if name in ctx.stores:
        return ctx.stores[name]
    if name in ctx.readonly_stores:
        raise Permanent(f"store {name!r} chosen by the sector manager to persist into is read-only on this worker")
    raise Permanent(f"store {name!r} chosen by the sector manager is not attached to this worker ({_known(ctx)})")


def access_store_path(ctx: StepContext, name: str) -> Path:
    """The local directory of an attached store, writable or read-only, to read a sector's files from (the
    old replica of a snapup sector); a store this worker does not have is Permanent."""
    stores = {**ctx.readonly_stores, **ctx.stores}
    if name not in stores:
        raise Permanent(f"store {name!r}, which holds the sector, is not attached to this worker ({_known(ctx)})")
    return stores[name]


def _known(ctx: StepContext) -> str:
    writable = sorted(ctx.stores)
    readonly = [f"{name} (read-only)" for name in sorted(ctx.readonly_stores)]
    return "attached: " + (", ".join(writable + readonly) or "none")

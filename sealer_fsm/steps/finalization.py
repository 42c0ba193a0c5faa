"""The final states' steps: report a finished sector, or clean up and report an aborted one.

Both are safe to repeat: files already removed stay removed, and the manager treats a repeated report as done.
"""

from __future__ import annotations

from pathlib import Path

from sealer_fsm.manager import REPORT_ABORTED, ManagerError, SectorStateNotFound
from sealer_fsm.runtime import StepContext
from sealer_fsm.steps._common import SectorFiles, call, manager, sector_id
from sealer_fsm.steps._files import file_errors, remove_path, temporary_name
from sealer_fsm.steps.persistence import SEALED_FILES, UPDATE_FILES


async def report_finalized(ctx: StepContext) -> None:
    """Finished: tell the manager, then drop the local copies (the persist store holds the sector now)."""
    await call("ReportFinalized", manager(ctx).report_finalized(sector_id(ctx)))
    await ctx.run_blocking(SectorFiles.of(ctx).remove)


async def abort_sector(ctx: StepContext) -> None:
    """Abort: remove the sector's files from this thread's data directories (and what an aborted upgrade or a
    partial copy left in the stores) and report it aborted. A manager
    that cannot be reached never parks the thread: the report is deferred (kept and retried in the background).

    A task aborted before it had a sector has nothing to clean or report.
    """
    if "sector_id" not in ctx.data:
        return
    await ctx.run_blocking(SectorFiles.of(ctx).remove)
    await ctx.run_blocking(_remove_store_copies, list(ctx.stores.values()), ctx.require("sector_id"), _upgrade(ctx))
    reason = abort_reason(ctx)
    try:
        await manager(ctx).report_aborted(sector_id(ctx), reason)
    except SectorStateNotFound:
        ctx.log.info("%s: the manager no longer knows the sector (it dropped it): nothing to report", ctx.sector)
    except ManagerError as error:
        # The reference logs the error and takes the next task; we also keep the report and retry it.
        ctx.log.warning("%s: ReportAborted failed (%s); it is retried in the background", ctx.sector, error)
        await ctx.defer(
            REPORT_ABORTED, f"{REPORT_ABORTED} {ctx.sector}", {"sector": ctx.sector, "reason": reason}, str(error)
        )
    ctx.log.warning("%s: aborted (%s), files removed", ctx.sector, reason)


def _upgrade(ctx: StepContext) -> bool:
    """Whether the task upgrades a sector that is already sealed (snapup: it was allocated with the old CommR)."""
    return "old_comm_r" in ctx.data


def _remove_store_copies(stores: list[Path], sector: str, upgrade: bool) -> None:
    """What an aborted task leaves in the writable stores: an aborted upgrade's updated replica (the sealed sector
    under it stays), and partial copies of a sealer's replica. A sealer's complete copy stays for the manager,
    which knows where it is (it may already be proven on chain), as with the reference worker."""
    for store in stores:
        files = SectorFiles(store, sector)
        with file_errors(f"remove the copies of {sector} from the store {store}"):
            for kind in UPDATE_FILES if upgrade else ():
                remove_path(files.path(kind))
            for kind in (*UPDATE_FILES, *SEALED_FILES):
                remove_path(temporary_name(files.path(kind)))


def abort_reason(ctx: StepContext) -> str:
    """What the manager is told: the failure that aborted the task, or who aborted it and why."""
    entry = ctx.entered_by()
    if entry is None or entry.to_state != ctx.state:
        return f"aborted by worker thread {ctx.thread_index}"
    if entry.failure:
        return entry.failure
    why = f": {entry.reason}" if entry.reason else ""
    return f"aborted by {entry.actor} from {entry.from_state}{why}"

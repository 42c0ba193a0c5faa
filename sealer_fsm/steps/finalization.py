"""The final states' steps: report a finished sector, or clean up and report an aborted one.

Both are safe to repeat: files already removed stay removed, and the manager treats a repeated report as done.
"""

from __future__ import annotations

from sealer_fsm.manager import ManagerError, SectorStateNotFound
from sealer_fsm.runtime import StepContext, Temporary
from sealer_fsm.steps._common import SectorFiles, call, manager, sector_id


async def report_finalized(ctx: StepContext) -> None:
    """Finished: tell the manager, then drop the local copies (the persist store holds the sector now)."""
    await call("ReportFinalized", manager(ctx).report_finalized(sector_id(ctx)))
    await ctx.run_blocking(SectorFiles.of(ctx).remove)


async def abort_sector(ctx: StepContext) -> None:
    """Abort: remove the sector's files from this thread's data directories and report it aborted.

    A task aborted before it had a sector has nothing to clean or report.
    """
    if "sector_id" not in ctx.data:
        return
    await ctx.run_blocking(SectorFiles.of(ctx).remove)
    reason = abort_reason(ctx)
    try:
        await manager(ctx).report_aborted(sector_id(ctx), reason)
    except SectorStateNotFound:
        ctx.log.info("%s: the manager no longer knows the sector (it dropped it): nothing to report", ctx.sector)
    except ManagerError as error:
        raise Temporary(f"ReportAborted: {error}") from error
    ctx.log.warning("%s: aborted (%s), files removed", ctx.sector, reason)


def abort_reason(ctx: StepContext) -> str:
    """What the manager is told: the failure that aborted the task, or who aborted it and why."""
    entry = ctx.entered_by()
    if entry is None or entry.to_state != ctx.state:
        return f"aborted by worker thread {ctx.thread_index}"
    if entry.failure:
        return entry.failure
    why = f": {entry.reason}" if entry.reason else ""
    return f"aborted by {entry.actor} from {entry.from_state}{why}"

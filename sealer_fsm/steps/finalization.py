"""The final states' steps: report a finished sector, or clean up and report an aborted one.

Both are safe to repeat: files already removed stay removed, and the manager treats a repeated report as done.
"""

from __future__ import annotations

from sealer_fsm.runtime import StepContext
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
    reason = f"aborted by worker thread {ctx.thread_index}"
    await call("ReportAborted", manager(ctx).report_aborted(sector_id(ctx), reason))
    ctx.log.warning("%s: aborted, files removed", ctx.sector)

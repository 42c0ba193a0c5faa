"""Tell the sector manager about every state change (the reference's `ReportState` after each handler)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sealer_fsm.manager._interface import SectorManager
from sealer_fsm.manager._types import ManagerError, SectorId, StateReport
from sealer_fsm.runtime import WorkerListener

log = logging.getLogger("sealer_fsm.manager")


class StateReporter(WorkerListener):
    """Reports in the background: a slow or failing manager never holds up a sealing thread."""

    def __init__(self, manager: SectorManager) -> None:
        self._manager = manager
        self._pending: set[asyncio.Task[None]] = set()

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        task = thread.task
        if task is None or task.sector is None:
            return
        state = StateReport(thread.worker.name, str(thread.config.location), source, destination, event)
        report = asyncio.ensure_future(self._report(SectorId.parse(task.sector), state))
        self._pending.add(report)
        report.add_done_callback(self._pending.discard)

    async def _report(self, sector: SectorId, state: StateReport) -> None:
        try:
            await self._manager.report_state(sector, state)
        except ManagerError as error:
            log.debug("ReportState for %s failed: %s", sector.name, error)

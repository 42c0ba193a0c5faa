"""Tell the sector manager about every state change (the reference's `ReportState` after each handler)."""

from __future__ import annotations

import asyncio
import logging

from sealer_fsm.manager._interface import SectorManager
from sealer_fsm.manager._types import ManagerError, SectorId

log = logging.getLogger("sealer_fsm.manager")

# The call an abort owes the manager; when it fails, the abort step defers it under this kind.
REPORT_ABORTED = "ReportAborted"


class StateReporter:
    """Reports in the background: a slow or failing manager never holds up a sealing thread."""

    def __init__(self, manager: SectorManager) -> None:
        self._manager = manager
        self._pending: set[asyncio.Task[None]] = set()

    def report_state(self, sector: str, source: str, event: str, destination: str) -> None:
        """Send ReportState for `sector` (a sector name) without waiting for the answer."""
        report = asyncio.ensure_future(self._report(SectorId.parse(sector), source, destination, event))
        self._pending.add(report)
        report.add_done_callback(self._pending.discard)

    async def _report(self, sector: SectorId, source: str, destination: str, event: str) -> None:
        try:
            await self._manager.report_state(sector, source, destination, event)
        except ManagerError as error:
            log.debug("ReportState for %s failed: %s", sector.name, error)

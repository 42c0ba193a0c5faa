"""Joining a worker to its sector manager, outside the steps: what the worker tells the manager on its own.

The runtime knows nothing of managers and the manager nothing of the runtime; this module, beside `assembly`,
connects them: every state change and failed step is reported (ReportState, `reporting.StateReporter`), and the
calls steps had to defer (a ReportAborted while the manager was down) are made by the worker's background retrier.
"""

from __future__ import annotations

from typing import Any

from sealer_fsm.manager import REPORT_ABORTED, SectorId, SectorManager
from sealer_fsm.reporting import StateReporter
from sealer_fsm.runtime import Worker


def connect_manager(worker: Worker, manager: SectorManager) -> None:
    """Report `worker`'s state changes to `manager`, and make the manager calls its steps deferred. (The manager
    unwrapped: these calls are the worker's own, not its steps', and are not counted as step calls.)"""
    worker.add_listener(StateReporter(worker, manager))

    async def report_aborted(payload: dict[str, Any]) -> None:
        await manager.report_aborted(SectorId.parse(payload["sector"]), payload["reason"])

    worker.handle_deferred(REPORT_ABORTED, report_aborted)

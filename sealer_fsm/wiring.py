"""Joining a worker to its sector manager, outside the steps: what the worker tells the manager on its own.

The runtime knows nothing of managers and the manager nothing of the runtime; this module, beside `assembly`,
connects them: every state change is reported (ReportState), and the calls steps had to defer (a ReportAborted
while the manager was down) are made by the worker's background retrier.
"""

from __future__ import annotations

from typing import Any

from sealer_fsm.manager import REPORT_ABORTED, SectorId, StateReporter
from sealer_fsm.runtime import Worker, WorkerListener


class _StateChanges(WorkerListener):
    def __init__(self, reporter: StateReporter) -> None:
        self._reporter = reporter

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        task = thread.task
        if task is not None and task.sector is not None:
            self._reporter.report_state(task.sector, source, event, destination)


def connect_manager(worker: Worker) -> None:
    """Report `worker`'s state changes to its manager, and make the manager calls its steps deferred."""
    worker.add_listener(_StateChanges(StateReporter(worker.services.manager)))

    async def report_aborted(payload: dict[str, Any]) -> None:
        await worker.services.manager.report_aborted(SectorId.parse(payload["sector"]), payload["reason"])

    worker.handle_deferred(REPORT_ABORTED, report_aborted)

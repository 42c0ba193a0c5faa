"""What joins the runtime to the sector manager's `ReportState`: a report after every step, and the manager's
answer acted upon.

As the reference worker does (reference-damocles.md sections 2 and 7): after every state change, and after every
failed step with its level and description, the manager is told the worker's name, the thread's location and the
change. Reports go out in the background: a slow or failing manager never holds up a sealing thread. A reply
saying the manager finalized the sector while the thread still works on it (the manager dropped it:
`damocles-manager util sealer sectors abort`, `sealer-fsm devnet abort`) makes the thread abort the sector (its
step is stopped, the task goes to Abort with the manager's reason, its files are removed) and take the next task.

This module uses only the runtime's public API (listener notifications, `pause`, `resume`), so the manager layer
never depends on the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sealer_fsm.manager import FailureReport, ManagerError, SectorId, SectorManager, StateReport
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.runtime import ControlError, Level, Worker, WorkerListener

log = logging.getLogger("sealer_fsm.reporting")

# The reference's failure level names (its Debug form of `Level`).
_LEVEL_NAMES = {
    Level.TEMPORARY: "Temporary",
    Level.PERMANENT: "Permanent",
    Level.CRITICAL: "Critical",
    Level.ABORT: "Abort",
}
_PAUSE_POLL_SECONDS = 0.02
_PAUSE_WAIT_SECONDS = 600.0
MANAGER_ACTOR = "manager"


class StateReporter(WorkerListener):
    def __init__(self, worker: Worker, manager: SectorManager) -> None:
        self._worker = worker
        self._manager = manager
        self._pending: set[asyncio.Task[None]] = set()
        self._aborting: set[tuple[int, str]] = set()

    def _report(self, thread: Any, report: StateReport) -> None:
        task = thread.task
        if task is None or task.sector is None:
            return
        job = asyncio.ensure_future(self._send(thread.index, task.id, task.sector, report))
        self._pending.add(job)
        job.add_done_callback(self._pending.discard)

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        self._report(thread, self._state_report(thread, source, destination, event))

    def step_finished(self, thread: Any, state: str, seconds: float, level: Any) -> None:
        if level is None:
            return  # a step that succeeded is reported by the state change it caused
        task = thread.task
        # last_error reads "temporary: <message>"; the level travels apart, as in the reference.
        desc = (task.last_error if task is not None else None) or f"{level.value} failure in {state}"
        desc = desc.removeprefix(f"{level.value}: ")
        failure = FailureReport(_LEVEL_NAMES.get(level, str(level)), desc)
        current = task.state if task is not None else state
        self._report(thread, self._state_report(thread, state, current, "", failure))

    def _state_report(
        self, thread: Any, previous: str, current: str, event: str, failure: FailureReport | None = None
    ) -> StateReport:
        return StateReport(self._worker.name, str(thread.config.location), previous, current, event, failure)

    async def _send(self, index: int, task_id: int, sector_name: str, report: StateReport) -> None:
        sector = SectorId.parse(sector_name)
        try:
            reply = await self._manager.report_state(sector, report)
        except ManagerError as error:
            log.debug("ReportState for %s failed: %s", sector_name, error)
            return
        if reply.finalized:
            reason = reply.abort_reason or "the manager finalized the sector while this worker was sealing it"
            await self._abort_dropped(index, task_id, sector_name, reason)

    def _still_working_on(self, index: int, task_id: int) -> bool:
        info = self._worker.thread(index)
        if info.task_id != task_id or info.state is None:
            return False
        return not self._worker.plan_of(index).state(info.state).final

    async def _abort_dropped(self, index: int, task_id: int, sector: str, reason: str) -> None:
        """Stop the thread's step and send its task to Abort, if it still works on the dropped sector."""
        if (index, sector) in self._aborting or not self._still_working_on(index, task_id):
            return
        self._aborting.add((index, sector))
        try:
            log.warning("thread %d: the manager dropped %s (%s): aborting it", index, sector, reason)
            if not self._worker.thread(index).paused:
                self._worker.pause(index, now=True)
            waited = 0.0
            while not self._worker.thread(index).paused:
                if waited > _PAUSE_WAIT_SECONDS or not self._still_working_on(index, task_id):
                    return
                await asyncio.sleep(_PAUSE_POLL_SECONDS)
                waited += _PAUSE_POLL_SECONDS
            if self._worker.thread(index).task_id == task_id:
                self._worker.resume(
                    index,
                    ABORT_STATE,
                    force=True,
                    reason=f"the manager dropped the sector: {reason}",
                    actor=MANAGER_ACTOR,
                )
        except ControlError as error:  # e.g. resumed by an operator in between: their choice stands
            log.info("thread %d: not aborting %s after all: %s", index, sector, error)
        finally:
            self._aborting.discard((index, sector))

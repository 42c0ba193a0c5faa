"""The controller for a worker running in the UI's own process and event loop (`sealer-fsm run ... --tui`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sealer_fsm import __version__
from sealer_fsm.runtime import ControlError, Worker
from sealer_fsm.tui._controller import ControllerError, HistoryRow, PlanView, ThreadRow, WorkerSummary


@contextmanager
def _refusals_as_controller_errors() -> Iterator[None]:
    """Turn the runtime's refusals (`ControlError`, nothing changed) into the UI's one error type."""
    try:
        yield
    except ControlError as error:
        raise ControllerError(str(error)) from error


class LocalController:
    """Calls the in-process `Worker` directly: its methods are quick and synchronous, so no thread hop is needed.

    Rows go through the same JSON shapes the control RPC returns, so both controllers show the same thing.
    """

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def worker_info(self) -> WorkerSummary:
        warnings = tuple(sorted(self._worker.plan_warnings().items()))
        return WorkerSummary(name=self._worker.name, version=__version__, plan_warnings=warnings)

    async def threads(self) -> list[ThreadRow]:
        return [ThreadRow.from_worker_info(info.to_worker_info()) for info in self._worker.threads()]

    async def pause(self, index: int, now: bool) -> bool:
        with _refusals_as_controller_errors():
            return self._worker.pause(index, now=now)

    async def resume(self, index: int, state: str | None, force: bool, reason: str | None) -> None:
        with _refusals_as_controller_errors():
            self._worker.resume(index, state, force=force, reason=reason)

    async def history(self, index: int) -> list[HistoryRow]:
        with _refusals_as_controller_errors():
            return [HistoryRow.from_json(entry.to_json()) for entry in self._worker.history(index)]

    async def plan(self, index: int) -> PlanView:
        with _refusals_as_controller_errors():
            return PlanView.from_json(self._worker.plan_of(index).to_json(), self._worker.thread(index).state)

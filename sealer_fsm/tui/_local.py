"""The controller for a worker running in the UI's own process and event loop (`sealer-fsm run ... --tui`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sealer_fsm import __version__
from sealer_fsm.plans import Plan
from sealer_fsm.runtime import ControlError, ThreadInfo, Worker
from sealer_fsm.store import HistoryEntry
from sealer_fsm.tui._controller import ControllerError, HistoryRow, PlanState, PlanView, ThreadRow, WorkerSummary


class LocalController:
    """Calls the in-process `Worker` directly; its methods are synchronous and quick, so no thread hop is needed."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def worker_info(self) -> WorkerSummary:
        return WorkerSummary(name=self._worker.name, version=__version__)

    async def threads(self) -> list[ThreadRow]:
        return [thread_row(info) for info in self._worker.threads()]

    async def pause(self, index: int, now: bool) -> bool:
        with _refusals_as_controller_errors():
            return self._worker.pause(index, now=now)

    async def resume(self, index: int, state: str | None, force: bool, reason: str | None) -> None:
        with _refusals_as_controller_errors():
            self._worker.resume(index, state, force=force, reason=reason)

    async def history(self, index: int) -> list[HistoryRow]:
        with _refusals_as_controller_errors():
            return [history_row(entry) for entry in self._worker.history(index)]

    async def plan(self, index: int) -> PlanView:
        with _refusals_as_controller_errors():
            return plan_view(self._worker.plan_of(index), self._worker.thread(index).state)


@contextmanager
def _refusals_as_controller_errors() -> Iterator[None]:
    """Turn the runtime's refusals (`ControlError`, nothing changed) into the UI's one error type."""
    try:
        yield
    except ControlError as error:
        raise ControllerError(str(error)) from error


def thread_row(info: ThreadInfo) -> ThreadRow:
    return ThreadRow(
        index=info.index,
        plan=info.plan,
        sector=info.sector,
        state=info.state,
        stage=info.stage,
        thread_state=info.thread_state.value,
        elapsed=info.elapsed,
        retry=info.retry,
        last_error=info.last_error,
        paused=info.paused,
    )


def history_row(entry: HistoryEntry) -> HistoryRow:
    return HistoryRow(
        at=entry.at,
        from_state=entry.from_state,
        event=entry.event,
        to_state=entry.to_state,
        failure=entry.failure,
        actor=entry.actor,
        reason=entry.reason,
    )


def plan_view(plan: Plan, current: str | None) -> PlanView:
    states = tuple(
        PlanState(name=name, stage=plan.state(name).stage, step=plan.state(name).step) for name in plan.state_names()
    )
    return PlanView(name=plan.name, initial=plan.initial, states=states, current=current)

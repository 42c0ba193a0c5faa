"""What the terminal UI needs from a worker, and nothing more: the controller interface and the rows it returns.

The UI never sees a `Worker`, a store or an RPC client. It talks to a `Controller`, which has two
implementations: `LocalController` (the worker runs in the same process and event loop, `run --tui`) and
`RemoteController` (the worker is another process, reached over the control RPC, `sealer-fsm tui`). Every
refusal and every transport fault reaches the UI as one `ControllerError` whose message is a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# The thread states the runtime reports, in the order the header counts them.
THREAD_STATES = ("Running", "Waiting", "Paused", "Idle")


class ControllerError(Exception):
    """A refused request (nothing changed) or a lost connection (`connection_lost`), phrased for the operator."""

    def __init__(self, message: str, *, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.connection_lost = connection_lost


@dataclass(frozen=True)
class WorkerSummary:
    name: str
    version: str
    # Plan files edited into something that does not load: (file, its faults). Their threads keep the last
    # valid version, which only the log said before.
    plan_warnings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> WorkerSummary:
        """From `SealerFsm.Info`."""
        warnings = tuple(sorted((info.get("plan_warnings") or {}).items()))
        return cls(name=info["name"], version=info["version"], plan_warnings=warnings)


@dataclass(frozen=True)
class ThreadRow:
    """One sealing thread as the table shows it; equal rows mean nothing to redraw."""

    index: int
    plan: str
    sector: str | None
    state: str | None
    stage: str
    simulated: bool  # the step of the current state is simulated
    thread_state: str  # one of THREAD_STATES
    elapsed: float  # seconds the task has been in its state
    retry: int
    last_error: str | None
    paused: bool
    waiting_for: str | None = None  # what a Waiting thread waits for ("pc1 slot (2/2 busy)", "lock gpu")

    @classmethod
    def from_worker_info(cls, info: dict[str, Any]) -> ThreadRow:
        """From the reference's WorkerInfo (snake_case, as `VenusWorker.WorkerList` returns it) plus our fields."""
        return cls(
            index=info["index"],
            plan=info["plan"],
            sector=info.get("job_id"),
            state=info.get("job_state") or None,
            stage=info.get("job_stage") or "-",
            simulated=bool(info.get("simulated")),
            thread_state=info["thread_state"]["state"],
            elapsed=float(info.get("elapsed") or 0.0),
            retry=int(info.get("retry") or 0),
            last_error=info.get("last_error"),
            paused=bool(info.get("paused")),
            waiting_for=info.get("waiting_for"),
        )


@dataclass(frozen=True)
class HistoryRow:
    at: float
    from_state: str
    event: str | None  # None for a failure recorded without a state change
    to_state: str
    failure: str | None
    actor: str
    reason: str | None

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> HistoryRow:
        """From a history entry's JSON (`HistoryEntry.to_json`, `SealerFsm.History`)."""
        return cls(
            at=entry["at"],
            from_state=entry["from"],
            event=entry.get("event"),
            to_state=entry["to"],
            failure=entry.get("failure"),
            actor=entry.get("actor") or "step",
            reason=entry.get("reason"),
        )


@dataclass(frozen=True)
class PlanState:
    name: str
    stage: str
    step: str | None


@dataclass(frozen=True)
class PlanView:
    """A thread's plan in file order (`Abort` last) and where its task is now (None between tasks)."""

    name: str
    initial: str
    states: tuple[PlanState, ...]
    current: str | None

    @classmethod
    def from_json(cls, plan: dict[str, Any], current: str | None) -> PlanView:
        """From a plan's JSON (`Plan.to_json`, `SealerFsm.PlanOf`), whose states end with `Abort`."""
        states = tuple(
            PlanState(name=s["name"], stage=s.get("stage") or "-", step=s.get("step")) for s in plan["states"]
        )
        return cls(name=plan["plan"], initial=plan["initial"], states=states, current=current)

    def state_names(self) -> list[str]:
        return [state.name for state in self.states]

    def get(self, name: str) -> PlanState | None:
        return next((state for state in self.states if state.name == name), None)


class Controller(Protocol):
    """The worker as the UI sees it. Every method may raise `ControllerError`; none blocks the event loop."""

    async def worker_info(self) -> WorkerSummary: ...

    async def threads(self) -> list[ThreadRow]: ...

    async def pause(self, index: int, now: bool) -> bool:
        """Ask a thread to pause; False when it is already paused or a pause is already pending."""
        ...

    async def resume(self, index: int, state: str | None, force: bool, reason: str | None) -> None:
        """Resume a paused thread, into `state` when given (`Abort` drops its task)."""
        ...

    async def history(self, index: int) -> list[HistoryRow]: ...

    async def plan(self, index: int) -> PlanView: ...

"""What the runtime tells the outside world about its threads, and the refusals its control API can give."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ThreadState(enum.Enum):
    IDLE = "Idle"  # between tasks, or waiting for work from the sector manager
    RUNNING = "Running"  # a step is running
    WAITING = "Waiting"  # a step waits for a shared resource before it can run
    PAUSED = "Paused"  # stopped until an operator resumes it


@dataclass(frozen=True)
class ThreadInfo:
    index: int
    location: str
    plan: str
    sector: str | None
    state: str | None
    stage: str
    simulated: bool  # the current state's step is simulated (marked so in every view)
    thread_state: ThreadState
    thread_state_elapsed: float  # seconds in the thread state (the reference's `thread_state.elapsed`)
    elapsed: float  # seconds since the task entered its current state
    retry: int
    last_error: str | None
    paused: bool
    pause_pending: bool
    task_id: int | None
    # While Waiting: what for ("pc1 slot (2/2 busy)", "lock gpu"); while Running a stage: where ("ext(pid: 12)").
    waiting_for: str | None = None
    proc: str | None = None
    # While paused: who paused the thread ("operator" or another actor named in the request, "worker" for a
    # failure or a store that cannot write), when (seconds since the epoch), and why.
    paused_by: str | None = None
    paused_at: float | None = None
    pause_reason: str | None = None

    def to_worker_info(self) -> dict[str, Any]:
        """The reference's (new) WorkerInfo, snake_case, with our extra fields after its own."""
        thread_state: dict[str, Any] = {"state": self.thread_state.value}
        if self.thread_state is not ThreadState.IDLE:
            thread_state["elapsed"] = int(self.thread_state_elapsed)
        if self.thread_state is ThreadState.RUNNING:
            thread_state["proc"] = self.proc
        return {
            "location": self.location,
            "plan": self.plan,
            "job_id": self.sector,
            "index": self.index,
            "thread_state": thread_state,
            "job_state": self.state or "",
            "job_stage": self.stage,
            "simulated": self.simulated,
            "last_error": self.last_error,
            "retry": self.retry,
            "elapsed": round(self.elapsed, 3),
            "paused": self.paused,
            "waiting_for": self.waiting_for,
            "paused_by": self.paused_by,
            "paused_at": self.paused_at,
            "pause_reason": self.pause_reason,
        }


class ControlError(Exception):
    """A control request the runtime refuses; nothing was changed. The message is one sentence."""


class ThreadNotFound(ControlError):
    pass


class NotPaused(ControlError):
    pass


class StateRefused(ControlError):
    """A resume into a state that is not in the task's plan, or whose required data is missing."""

    def __init__(self, message: str, valid_states: list[str]) -> None:
        super().__init__(message)
        self.valid_states = valid_states

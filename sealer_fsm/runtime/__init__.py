"""The sealing runtime: threads, retries, pause/resume, abort, drain; and what steps see of it.

Steps import from here: `StepContext`, `Outcome`, `IDLE` and the failure classes. Surfaces (CLI, RPC, TUI)
use `Worker`'s public methods and `ThreadInfo`.
"""

from sealer_fsm.runtime._clock import Clock, SystemClock
from sealer_fsm.runtime._context import IDLE, Outcome, Services, StepContext, StepResult
from sealer_fsm.runtime._failures import (
    AbortTask,
    Critical,
    Interrupted,
    Level,
    Permanent,
    StepFailure,
    Temporary,
)
from sealer_fsm.runtime._info import (
    ControlError,
    NotPaused,
    StateRefused,
    ThreadInfo,
    ThreadNotFound,
    ThreadState,
)
from sealer_fsm.runtime._resume import ResumeCheck, state_needs
from sealer_fsm.runtime._stages import StageRunner
from sealer_fsm.runtime._thread import FORCED_EVENT
from sealer_fsm.runtime._worker import HomeError, HomeInUse, Worker, WorkerListener

__all__ = [
    "FORCED_EVENT",
    "IDLE",
    "AbortTask",
    "Clock",
    "ControlError",
    "Critical",
    "HomeError",
    "HomeInUse",
    "Interrupted",
    "Level",
    "NotPaused",
    "Outcome",
    "Permanent",
    "ResumeCheck",
    "Services",
    "StageRunner",
    "StateRefused",
    "StepContext",
    "StepFailure",
    "StepResult",
    "SystemClock",
    "Temporary",
    "ThreadInfo",
    "ThreadNotFound",
    "ThreadState",
    "Worker",
    "WorkerListener",
    "state_needs",
]

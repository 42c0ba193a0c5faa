"""The live terminal UI (Textual): watch the sealing threads, pause them, resume them into a chosen state, abort.

The UI talks only to a `Controller`: `LocalController` for a worker in this process (`run --tui`), or
`RemoteController` for a worker reached over the control RPC (`sealer-fsm tui`).
"""

from sealer_fsm.tui._app import SealerFsmApp
from sealer_fsm.tui._controller import (
    Controller,
    ControllerError,
    HistoryRow,
    PlanState,
    PlanView,
    ThreadRow,
    WorkerSummary,
)
from sealer_fsm.tui._launch import NO_TERMINAL, NoTerminal, require_terminal, run_tui_attached, run_tui_in_process
from sealer_fsm.tui._local import LocalController
from sealer_fsm.tui._remote import RemoteController

__all__ = [
    "NO_TERMINAL",
    "Controller",
    "ControllerError",
    "HistoryRow",
    "LocalController",
    "NoTerminal",
    "PlanState",
    "PlanView",
    "RemoteController",
    "SealerFsmApp",
    "ThreadRow",
    "WorkerSummary",
    "require_terminal",
    "run_tui_attached",
    "run_tui_in_process",
]

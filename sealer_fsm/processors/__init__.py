"""Processors: how steps run the heavy stages, under per-stage limits and named locks, in-process or in
external child processes speaking the reference's protocol (reference-damocles.md §8, docs/processors.md).

Steps call `await ctx.processors.run(stage, task)` (a `StageRunner` bound to the step); the worker owns one
`Processors` built from the machine file's `[processors]` section and starts/stops its children. The package
knows no stage's computation: the in-process implementations (`sealer_fsm.steps.stages`) are handed to it, and
the children run whatever program their entry names.
"""

from sealer_fsm.processors._child import ChildState, Timing
from sealer_fsm.processors._consumer import TRACE_ENV, run_consumer
from sealer_fsm.processors._failure import StageFailed
from sealer_fsm.processors._hub import (
    BUILTIN,
    ChildStatus,
    Processors,
    Reporter,
    StageFunction,
    StageOutput,
    StageStatus,
)
from sealer_fsm.processors._limits import LimitStatus, StageLimit
from sealer_fsm.processors._pool import LockStatus
from sealer_fsm.processors._protocol import ready_line

__all__ = [
    "BUILTIN",
    "TRACE_ENV",
    "ChildState",
    "ChildStatus",
    "LimitStatus",
    "LockStatus",
    "Processors",
    "Reporter",
    "StageFailed",
    "StageFunction",
    "StageLimit",
    "StageOutput",
    "StageStatus",
    "Timing",
    "ready_line",
    "run_consumer",
]

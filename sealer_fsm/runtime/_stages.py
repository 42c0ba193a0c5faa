"""What a step sees of the worker's processors: `await ctx.processors.run(stage, task)`.

The call runs under the stage's limits and locks, in-process or in an external child (see
`sealer_fsm.processors`); meanwhile the thread shows Waiting with what it waits for, then Running with the
processor's name, and the step's cancel token reaches the work. A stage's failure comes back as the runtime's
failure of the same level, so a child that exits mid-call is a Temporary failure the runtime retries.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from sealer_fsm.config import ExternalProcessor
from sealer_fsm.processors import Processors, Reporter, StageFailed, StageOutput
from sealer_fsm.proofs import CancelToken
from sealer_fsm.runtime._failures import AbortTask, Critical, Permanent, StepFailure, Temporary

_FAILURES: dict[str, type[StepFailure]] = {
    "temporary": Temporary,
    "permanent": Permanent,
    "critical": Critical,
    "abort": AbortTask,
}


class StageRunner:
    def __init__(self, processors: Processors, report: Reporter, cancel: CancelToken) -> None:
        """`report` tells the step's thread what the call waits for, or where it runs."""
        self._processors = processors
        self._report = report
        self._cancel = cancel

    async def run(self, stage: str, task: Any) -> StageOutput:
        """Run `stage` on `task` (the reference's input shape, see `sealer_fsm.processors.tasks`)."""
        try:
            return await self._processors.run(stage, task, cancel=self._cancel, report=self._report)
        except StageFailed as failure:
            raise _FAILURES[failure.level](failure.message) from failure

    def slot(self, stage: str) -> AbstractAsyncContextManager[None]:
        """`async with ctx.processors.slot(stage):` do a stage's work in the step itself (a simulated stand-in)
        under the stage's limits, the thread showing what it waits for."""
        return self._processors.slot(stage, self._report)

    def external(self, stage: str) -> tuple[ExternalProcessor, ...]:
        """The stage's `[[processors.<stage>]]` entries; empty when it runs in-process."""
        return self._processors.external(stage)

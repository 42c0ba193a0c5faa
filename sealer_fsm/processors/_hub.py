"""`Processors`: the one way a step runs a stage, in-process or in an external child, under the stage's limits.

For one call, in the reference's order (`reference-damocles.md` §8, concurrency layering):

1. wait for the stage's token (`limitation.concurrent`, `limitation.staggered`): the thread is Waiting;
2. with `[[processors.<stage>]]` entries, take a child and its locks (Waiting while none is free), then send the
   task over the protocol: the thread is Running with `proc = "ext(pid: N)"`; without entries, run the stage's
   built-in implementation on a worker thread of this process;
3. give everything back when the call ends, however it ends.

A cancelled call (pause --now, abort, drain) returns only once its work has stopped: the built-in one when its
thread returns (its computation polls the cancel token), the external one when the child answered the cancel
request or was killed. So the step that runs it again never overlaps with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sealer_fsm.config import STAGES, ExternalProcessor, ProcessorsConfig
from sealer_fsm.processors._child import (
    DEFAULT_TIMING,
    ChildState,
    ProcessorChild,
    Timing,
    finish_despite_cancellation,
)
from sealer_fsm.processors._failure import StageFailed
from sealer_fsm.processors._limits import LimitStatus, Schedule, StageLimit
from sealer_fsm.processors._placement import remove_cgroup
from sealer_fsm.processors._pool import Changes, ExtLocks, LockStatus, StagePool
from sealer_fsm.processors._spawn import cgroup_name, command, environment
from sealer_fsm.proofs import CancelToken

BUILTIN = "builtin"  # the processor name of in-process work, as the reference's built-in processor
# A stage's implementation: its task (the reference's JSON shape) and a cancel token in, its output out; it
# blocks until done (the caller runs it on a worker thread) and raises a failure with a level, or Cancelled.
StageFunction = Callable[[Any, CancelToken], Any]


class Reporter(Protocol):
    def __call__(self, waiting_for: str | None, proc: str | None) -> None:
        """Tell the thread what the call waits for (thread state Waiting) or where it runs (Running)."""


def _silent(waiting_for: str | None, proc: str | None) -> None:
    return None


@dataclass(frozen=True)
class StageOutput:
    """A stage's output and where it was computed: `builtin`, or `ext(pid: N)` with the child's entry."""

    stage: str
    output: Any
    processor: str
    external: ExternalProcessor | None = None


@dataclass(frozen=True)
class ChildStatus:
    index: int
    program: str
    state: str
    pid: int | None
    load: int
    starts: int
    last_error: str | None


@dataclass(frozen=True)
class StageStatus:
    """One stage as /metrics and the docs show it: its token's use, and its children when external."""

    stage: str
    limit: LimitStatus
    children: list[ChildStatus]


class Processors:
    def __init__(
        self,
        config: ProcessorsConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        schedule: Schedule | None = None,
        timing: Timing = DEFAULT_TIMING,
        builtin: Callable[[str], StageFunction] | None = None,
        child_env: Mapping[str, str] | None = None,
    ) -> None:
        """`builtin` gives a stage's in-process implementation (the steps' `builtin_stage`; without it, a stage
        without external processors cannot run). `child_env`: what every child needs of the worker's own settings
        (say, where the parent caches are), given to it whatever its `inherit_envs`; its entry's `envs` still
        win."""
        self.config = config or ProcessorsConfig()
        self._builtin = builtin
        self._limits = {
            stage: StageLimit(
                self.config.concurrent.get(stage),
                self.config.staggered.get(stage),
                monotonic=monotonic,
                schedule=schedule,
            )
            for stage in STAGES
        }
        self._locks = ExtLocks(self.config.ext_locks)
        self._changes = Changes()
        self._pools = {
            stage: StagePool(
                stage,
                [
                    ProcessorChild(
                        spec, command(spec), environment(spec, child_env), timing=timing, on_change=self._notify
                    )
                    for spec in specs
                ],
                self._locks,
                self._changes,
            )
            for stage, specs in self.config.external.items()
        }

    def _notify(self) -> None:
        self._changes.notify()

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every external child; their handshakes go on in the background (calls wait for them)."""
        for pool in self._pools.values():
            for child in pool.children:
                child.start()

    async def close(self) -> None:
        """Stop every child and remove the cpuset cgroups they made."""
        children = [child for pool in self._pools.values() for child in pool.children]
        await asyncio.gather(*(child.close() for child in children))
        for child in children:
            if child.spec.cgroup.cpuset is not None:
                remove_cgroup(cgroup_name(child.spec))

    async def __aenter__(self) -> Processors:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- calls ------------------------------------------------------------------------------------------------

    def external(self, stage: str) -> tuple[ExternalProcessor, ...]:
        """The stage's `[[processors.<stage>]]` entries (empty: it runs in-process)."""
        return self.config.external.get(stage, ())

    async def run(
        self, stage: str, task: Any, *, cancel: CancelToken | None = None, report: Reporter = _silent
    ) -> StageOutput:
        """Run `stage` on `task` (its reference-shaped input) and return its output.

        Failures are StageFailed with their level: the stage's own (from the built-in code, or a child's
        `err_msg`), temporary when a child exits mid-call. `cancel` stops the work between chunks."""
        async with self.slot(stage, report):
            return await self._run_holding_token(stage, task, cancel, report)

    @asynccontextmanager
    async def slot(self, stage: str, report: Reporter = _silent) -> AsyncIterator[None]:
        """Hold the stage's token (its `limitation.concurrent` slot and `staggered` start) for the block: how
        `run` calls a stage, and how a step doing a stage's work itself (a simulated stand-in) stays under the
        stage's limits."""
        limit = self._limits.get(stage)
        if limit is None:
            raise ValueError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        try:
            if not limit.can_start_now():
                report(f"{stage} {limit.blocker()}", None)
            await limit.acquire()
            try:
                report(None, BUILTIN)
                yield
            finally:
                limit.release()
        finally:
            report(None, None)

    async def _run_holding_token(
        self, stage: str, task: Any, cancel: CancelToken | None, report: Reporter
    ) -> StageOutput:
        pool = self._pools.get(stage)
        if pool is None:
            return StageOutput(stage, await self._run_builtin(stage, task, cancel), BUILTIN)
        child = await pool.acquire(lambda blocker: report(blocker, None))
        try:
            report(None, child.name)
            return StageOutput(stage, await child.call(task, cancel), child.name, child.spec)
        finally:
            pool.release(child)

    async def _run_builtin(self, stage: str, task: Any, cancel: CancelToken | None) -> Any:
        if self._builtin is None:
            raise StageFailed(f"this worker has no in-process {stage} implementation; configure [[processors.{stage}]]")
        function = self._builtin(stage)
        token = cancel or CancelToken()
        work = asyncio.get_running_loop().run_in_executor(None, function, task, token)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            token.cancel()
            await finish_despite_cancellation(asyncio.wait([work]))
            if not work.cancelled():
                work.exception()  # seen: the call was cancelled, its outcome no longer matters
            raise

    # -- what surfaces show -----------------------------------------------------------------------------------

    def status(self) -> list[StageStatus]:
        statuses = []
        for stage in STAGES:
            pool = self._pools.get(stage)
            children = [] if pool is None else [_child_status(child) for child in pool.children]
            statuses.append(StageStatus(stage, self._limits[stage].status(), children))
        return statuses

    def locks(self) -> list[LockStatus]:
        return self._locks.status()

    def ready(self) -> bool:
        """Whether every external child has passed its handshake (the CLI waits for this in tests and benches)."""
        return all(child.state is ChildState.READY for pool in self._pools.values() for child in pool.children)


def _child_status(child: ProcessorChild) -> ChildStatus:
    return ChildStatus(
        index=child.spec.index,
        program=" ".join(child.argv),
        state=child.state.value,
        pid=child.pid if child.state is ChildState.READY else None,
        load=child.load,
        starts=child.starts,
        last_error=child.last_error,
    )

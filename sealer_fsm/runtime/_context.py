"""What a step receives (StepContext) and what it returns (an event name, an Outcome, or IDLE).

A step is `async def step(ctx) -> str | Outcome | IDLE` (or a plain function, run in a worker thread). It reads
the task's data, does its work, and returns the event that names what happened; the runtime applies that event
through the plan's machine and stores `Outcome.data` with the new state in the same transaction.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from sealer_fsm.manager import SectorManager
from sealer_fsm.processors import Processors
from sealer_fsm.proofs import CancelToken
from sealer_fsm.runtime._failures import AbortTask, Interrupted
from sealer_fsm.runtime._stages import StageRunner
from sealer_fsm.store import Deferred

if TYPE_CHECKING:
    from sealer_fsm.config import SealingConfig
    from sealer_fsm.plans import Plan
    from sealer_fsm.runtime._thread import SealingThread
    from sealer_fsm.store import HistoryEntry

T = TypeVar("T")

# The task-data key naming the task's sector (`s-t01000-5`), set by the allocation steps.
SECTOR_KEY = "sector_id"


@dataclass(frozen=True)
class Outcome:
    """An event plus the task data it produces (e.g. `Outcome("PC2", {"comm_r": ...})`)."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


class _Idle:
    """Returned by a step that found nothing to do yet (no sector to allocate): retry after recover_interval."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE = _Idle()
StepResult = str | Outcome | _Idle


@dataclass(frozen=True)
class Services:
    """What the worker was built with and every step may use: the sector manager and the attached stores."""

    manager: SectorManager
    # Writable persist stores ([[attached]]) by name: the directories the manager's store names map to here.
    # Steps persist into these only.
    stores: Mapping[str, Path] = field(default_factory=dict)
    # Read-only attached stores by name: steps read from them (the old replica of a snapup sector), never write.
    readonly_stores: Mapping[str, Path] = field(default_factory=dict)
    # How the heavy stages run ([processors]); the worker starts and stops its external children.
    processors: Processors = field(default_factory=Processors)


class StepContext:
    def __init__(self, thread: SealingThread, plan: Plan, state: str, data: dict[str, Any]) -> None:
        self._thread = thread
        self.plan = plan
        self.state = state
        self.data: Mapping[str, Any] = MappingProxyType(dict(data))
        self.log = thread.log
        # Set by the runtime when the step is cancelled (pause --now, drain timeout); long computations the
        # step runs with `run_blocking` take it as `cancel=` and stop between chunks.
        self.cancel_token = CancelToken()

    @property
    def thread_index(self) -> int:
        return self._thread.index

    @property
    def location(self) -> Path:
        """The thread's own directory (the reference's `location`), where sector files live under data/."""
        return self._thread.config.location

    @property
    def sector(self) -> str | None:
        return self.data.get(SECTOR_KEY)

    @property
    def sealing(self) -> SealingConfig:
        return self._thread.config.sealing

    @property
    def services(self) -> Services:
        return self._thread.worker.services

    @property
    def manager(self) -> SectorManager:
        """The sector manager, whichever implementation answers (devnet, RPC client)."""
        return self._thread.worker.services.manager

    @property
    def stores(self) -> Mapping[str, Path]:
        """The writable attached persist stores, by name."""
        return self._thread.worker.services.stores

    @property
    def readonly_stores(self) -> Mapping[str, Path]:
        """The read-only attached stores, by name: for reading sector files, never for persisting."""
        return self._thread.worker.services.readonly_stores

    @property
    def processors(self) -> StageRunner:
        """Run a stage under its limits, in-process or in its external processors: `await ctx.processors.run(...)`."""
        return StageRunner(self._thread.worker.processors, self._thread.report_stage, self.cancel_token)

    def now(self) -> float:
        return self._thread.worker.clock.now()

    def require(self, key: str) -> Any:
        """Task data a step cannot run without; missing data aborts the task, as the reference does."""
        if key not in self.data:
            raise AbortTask(f"task data {key!r} is missing in state {self.state!r}")
        return self.data[key]

    async def save(self, **updates: Any) -> None:
        """Store task data now, without a state change: what a step must still know if the worker dies before
        its event is applied (for example the request id it is about to send the manager)."""
        await self._thread.save_data(updates)
        self.data = MappingProxyType({**self.data, **updates})

    async def defer(self, kind: str, key: str, payload: dict[str, Any], error: str) -> None:
        """Hand over a call this step could not make (it failed with `error`): it is stored now and retried in
        the background until it succeeds, after a restart too, while the task goes on. One call per `key`."""
        await self._thread.defer(Deferred(key, kind, payload, self.now(), attempts=1, last_error=error))

    def entered_by(self) -> HistoryEntry | None:
        """The history row that moved the task into this state: why it is here (say, the failure or the
        operator's reason that sent it to Abort). None for a task still in its initial state."""
        task = self._thread.task
        return None if task is None else self._thread.worker.store.last_move(task.id)

    def checkpoint(self) -> None:
        """Raise Interrupted if the thread was asked to pause or the worker is draining."""
        if self._thread.interrupt_requested():
            raise Interrupted()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`, waking early (with Interrupted) for a pause or a drain."""
        self.checkpoint()
        await self._thread.wait_interruptibly(seconds)
        self.checkpoint()

    async def run_blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run CPU- or IO-heavy work in a worker thread so the other sealing threads keep going.

        Long computations should take `cancel=ctx.cancel_token`, so that cancelling the step stops them. Work
        that does not is still waited for: the task's next step (or a resume) starts only once it returned."""
        return await self._thread.run_blocking(function, *args, **kwargs)

    @asynccontextmanager
    async def waiting(self, what: str | None = None) -> AsyncIterator[None]:
        """Mark the thread Waiting (for `what`, shown as its `waiting_for`) for the duration of the block."""
        with self._thread.waiting_state(what):
            yield


async def invoke_step(function: Callable[..., Any], context: StepContext) -> Any:
    """Run a step: a coroutine function on the event loop, a plain function in a worker thread."""
    if inspect.iscoroutinefunction(function):
        return await function(context)
    result = await context.run_blocking(function, context)
    return await result if inspect.isawaitable(result) else result

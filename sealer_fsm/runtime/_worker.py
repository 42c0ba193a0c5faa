"""The worker: the sealing threads of one machine file, their store, and the public control API.

Everything above the runtime (CLI, control RPC, TUI, metrics) uses only this class's public methods:
`threads`, `pause`, `resume`, `history`, `plans`, `plan_of`, plus `add_listener` for observers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from pathlib import Path
from typing import Any, TextIO

from sealer_fsm.config import MachineConfig
from sealer_fsm.pidlock import LockHeld, hold_pid_lock
from sealer_fsm.plans import Plan, PlanError, PlanFault
from sealer_fsm.processors import Processors
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime._blocking import BlockingPool
from sealer_fsm.runtime._clock import Clock, SystemClock
from sealer_fsm.runtime._context import Services
from sealer_fsm.runtime._control import wait_for_work
from sealer_fsm.runtime._deferred import DeferredCalls, DeferredHandler
from sealer_fsm.runtime._info import ThreadInfo, ThreadNotFound
from sealer_fsm.runtime._plans import PlanFiles, PlanVersion
from sealer_fsm.runtime._resume import ResumeCheck
from sealer_fsm.runtime._thread import SealingThread
from sealer_fsm.store import HistoryEntry, TaskRecord, TaskStore
from sealer_fsm.wording import counted

log = logging.getLogger("sealer_fsm.runtime")


class HomeInUse(RuntimeError):
    """Another worker process already runs with this home; two would seal the same tasks twice."""


class HomeError(RuntimeError):
    """The worker's home or a thread's location cannot be created or written; the message is one sentence."""


# After a drain cancelled the running steps, how long the worker waits for their blocking work to return (work
# that polls its cancel token stops within moments) before it leaves the rest to end with the process.
BLOCKING_GRACE_SECONDS = 5.0


def _lock_home(home: Path) -> TextIO:
    """Hold an exclusive lock on `home` for as long as this worker lives (released by the OS if it dies)."""
    try:
        return hold_pid_lock(home / "worker.lock")
    except LockHeld as held:
        raise HomeInUse(f"another worker (pid {held.holder}) is running with home {home}") from None


def _prepare_home(config: MachineConfig) -> TextIO:
    """Create the home and the threads' locations and lock the home; HomeError in one sentence if the disk says
    no (read-only, not a directory, no permission)."""
    for directory in (config.home, *(thread.location for thread in config.threads)):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HomeError(f"cannot create {directory}: {error.strerror or error}") from error
    try:
        return _lock_home(config.home)
    except OSError as error:
        raise HomeError(f"cannot lock the home {config.home}: {error.strerror or error}") from error


class WorkerListener:
    """Observer of the runtime (metrics, progress views). Every method is optional; all run on the event loop."""

    def state_changed(self, thread: SealingThread, source: str, event: str, destination: str) -> None: ...

    def step_finished(self, thread: SealingThread, state: str, seconds: float, level: Any) -> None: ...

    def failure(self, thread: SealingThread, level: Any) -> None: ...

    def task_closed(self, thread: SealingThread, task: TaskRecord) -> None: ...

    def attempt_ended(self, thread: SealingThread, idles: int) -> None:
        """The thread got `idles` Idle answers (more than request_task_max_retries) and waits seal_interval."""

    async def stopped(self) -> None:
        """Every thread stopped; awaited before `Worker.run` returns, so that what a listener sends in the
        background (state reports) ends before the services it uses (the sector manager) are closed."""


class Worker:
    def __init__(
        self,
        config: MachineConfig,
        registry: StepRegistry,
        *,
        services: Services | None = None,
        clock: Clock | None = None,
        store: TaskStore | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._services = services
        # How steps run the heavy stages: the services' (from [processors]), or all in-process without limits.
        self.processors = services.processors if services is not None else Processors()
        self.clock: Clock = clock or SystemClock()
        self.draining = False
        self._listeners: list[WorkerListener] = []
        self._plan_files = PlanFiles(registry)
        # Validate every configured plan before anything starts: a broken plan refuses the start.
        plans = {thread.plan_path: self._plan_files.current(thread.plan_path).plan for thread in config.threads}
        self._home_lock = _prepare_home(config)
        self.store = store or TaskStore.in_home(config.home)
        self._threads = [SealingThread(self, thread, plans[thread.plan_path]) for thread in config.threads]
        self.deferred_calls = DeferredCalls(self)
        self.blocking_pool = BlockingPool(f"{config.name}-blocking")
        self.kept_plans: set[str] = set()  # plan versions this worker has stored (by digest)
        self._drained = asyncio.Event()

    @property
    def services(self) -> Services:
        """The sector manager and stores steps use; a worker built without them (tests of the runtime alone,
        with scripted steps) has none to give."""
        if self._services is None:
            raise RuntimeError("this worker was built without services (no sector manager, no stores)")
        return self._services

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every thread until `drain()`; returns once all threads stopped."""
        self._drained = asyncio.Event()
        threads = counted(len(self._threads), "sealing thread")
        log.info("worker %s: %s, home %s", self.config.name, threads, self.config.home)
        # Everything loaded so far (modules, plans, each thread's machine) lives as long as the worker: kept out of
        # the collector's full passes, which would otherwise stall the event loop for tens of milliseconds.
        gc.freeze()
        await self.processors.start()
        runners = [asyncio.create_task(thread.run(), name=f"thread-{thread.index}") for thread in self._threads]
        retrier = asyncio.create_task(self.deferred_calls.run(), name="deferred-calls")
        try:
            await asyncio.gather(*runners)
            await self._let_blocking_work_return()
        finally:
            for runner in [*runners, retrier]:
                runner.cancel()
            await asyncio.gather(retrier, return_exceptions=True)
            for listener in self._listeners:
                await listener.stopped()
            gc.unfreeze()
            await self.processors.close()
            self._drained.set()

    def close(self) -> None:
        """Release the home and the store (a stopped worker in a long-lived process, e.g. a test)."""
        self.store.close()
        self._home_lock.close()

    def drain(self) -> None:
        """Stop taking tasks; running steps stop at their next checkpoint, or are cancelled after drain_timeout."""
        if self.draining:
            return
        self.draining = True
        log.info("worker %s: draining", self.config.name)
        for thread in self._threads:
            thread.wake()
        self.deferred_calls.wake()
        asyncio.get_running_loop().call_later(self.config.worker.drain_timeout, self._cancel_running_steps)

    async def _let_blocking_work_return(self) -> None:
        pending = [work for thread in self._threads for work in thread.blocking_work()]
        if not pending:
            return
        still_running = await wait_for_work(pending, BLOCKING_GRACE_SECONDS)
        if still_running:
            log.warning(
                "worker %s: %d blocking call(s) of cancelled steps ignore their cancel token; leaving them to end"
                " with the process (their tasks stay in their states and run again on the next start)",
                self.config.name,
                still_running,
            )

    def _cancel_running_steps(self) -> None:
        for thread in self._threads:
            thread.cancel_step()

    # -- plans ------------------------------------------------------------------------------------------------

    def current_plan(self, thread: SealingThread) -> PlanVersion:
        """The thread's configured plan as its file is now (re-read when edited, last good version kept)."""
        return self._plan_files.current(thread.config.plan_path)

    def plan_for_task(self, thread: SealingThread, task: TaskRecord) -> Plan:
        """An open task keeps the plan version it started with, even if its file or the thread's configuration
        changed since (a task from before versions were kept follows its file)."""
        path = Path(task.plan_path)
        try:
            current = self._plan_files.current(path)
            if task.plan_hash is None or task.plan_hash == current.digest:
                return current.plan
            text = self.store.plan_text(task.plan_hash)
            if text is None:
                raise PlanError([PlanFault(str(path), 0, f"version {task.plan_hash[:12]} is not in the store")])
            version = self._plan_files.version(task.plan_hash, text, path)
        except PlanError as error:
            log.error(
                "thread %d: the plan of task %d no longer loads (%s); using %s",
                thread.index,
                task.id,
                error.faults[0],
                thread.plan.name,
            )
            return thread.plan
        log.warning(
            "thread %d: task %d follows the version of %s it started with (%s); the file changed since (now %s):"
            " new tasks take the new version",
            thread.index,
            task.id,
            path,
            version.short,
            current.short,
        )
        return version.plan

    def plan_warnings(self) -> dict[str, str]:
        return {str(path): text for path, text in self._plan_files.warnings.items()}

    def handle_deferred(self, kind: str, handler: DeferredHandler) -> None:
        """Make deferred calls of `kind` (see `StepContext.defer`) with `handler(payload)`; an exception from it
        means "not yet": the call is kept and retried every recover_interval."""
        self.deferred_calls.handle(kind, handler)

    # -- observers --------------------------------------------------------------------------------------------

    def add_listener(self, listener: WorkerListener) -> None:
        self._listeners.append(listener)

    def notify(self, method: str, *args: Any) -> None:
        for listener in self._listeners:
            try:
                getattr(listener, method)(*args)
            except Exception:  # an observer must never break sealing
                log.exception("listener %r failed on %s", listener, method)

    # -- public control API -----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def pid(self) -> int:
        return os.getpid()

    def _thread(self, index: int) -> SealingThread:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self._threads):
            raise ThreadNotFound(f"thread {index} not found (this worker has threads 0 to {len(self._threads) - 1})")
        return self._threads[index]

    def threads(self) -> list[ThreadInfo]:
        return [thread.info() for thread in self._threads]

    def thread(self, index: int) -> ThreadInfo:
        return self._thread(index).info()

    def pause(self, index: int, now: bool = False, actor: str = "operator", reason: str | None = None) -> bool:
        """Pause thread `index` at its next checkpoint (with `now`, cancel its running step too); who asked and why
        are kept with the task and shown while it is paused. False when it is paused or a pause is pending."""
        return self._thread(index).pause(now=now, actor=actor, reason=reason)

    def resume(
        self,
        index: int,
        state: str | None = None,
        *,
        force: bool = False,
        reason: str | None = None,
        actor: str = "operator",
    ) -> bool:
        return self._thread(index).resume(state, force=force, reason=reason, actor=actor)

    def check_resume(self, index: int, state: str, force: bool = False) -> ResumeCheck:
        """Validate a resume into `state` without doing it (what `resume` checks): the canonical target, what it
        needs and, for a forced jump, what the task lacks. Raises ThreadNotFound, NotPaused or StateRefused (one
        sentence, with the valid states)."""
        return self._thread(index).check_resume(state, force)

    def history(self, index: int) -> list[HistoryEntry]:
        info = self._thread(index).info()
        return [] if info.task_id is None else self.store.history(info.task_id)

    def plans(self) -> dict[str, Plan]:
        return {thread.plan.name: thread.plan for thread in self._threads}

    def plan_of(self, index: int) -> Plan:
        thread = self._thread(index)
        return thread.task_plan or thread.plan

"""The worker: the sealing threads of one machine file, their store, and the public control API.

Everything above the runtime (CLI, control RPC, TUI, metrics) uses only this class's public methods:
`threads`, `pause`, `resume`, `history`, `plans`, `plan_of`, plus `add_listener` for observers.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, TextIO

from sealer_fsm.config import MachineConfig
from sealer_fsm.plans import Plan, PlanError, load_plan
from sealer_fsm.processors import Processors
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime._clock import Clock, SystemClock
from sealer_fsm.runtime._context import Services
from sealer_fsm.runtime._info import ThreadInfo, ThreadNotFound
from sealer_fsm.runtime._thread import SealingThread
from sealer_fsm.store import HistoryEntry, TaskRecord, TaskStore

log = logging.getLogger("sealer_fsm.runtime")


class HomeInUse(RuntimeError):
    """Another worker process already runs with this home; two would seal the same tasks twice."""


def _lock_home(home: Path) -> TextIO:
    """Hold an exclusive lock on `home` for as long as this worker lives (released by the OS if it dies)."""
    lock = (home / "worker.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise HomeInUse(f"another worker (pid {holder}) is running with home {home}") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


class WorkerListener:
    """Observer of the runtime (metrics, progress views). Every method is optional; all run on the event loop."""

    def state_changed(self, thread: SealingThread, source: str, event: str, destination: str) -> None: ...

    def step_finished(self, thread: SealingThread, state: str, seconds: float, level: Any) -> None: ...

    def failure(self, thread: SealingThread, level: Any) -> None: ...

    def task_closed(self, thread: SealingThread, task: TaskRecord) -> None: ...


class _PlanFiles:
    """Plans by file, reloaded when the file changes. A broken edit keeps the last good plan in use."""

    def __init__(self, registry: StepRegistry) -> None:
        self._registry = registry
        self._plans: dict[Path, tuple[float, Plan]] = {}
        self.warnings: dict[Path, str] = {}

    def get(self, path: Path) -> Plan:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0
        cached = self._plans.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            plan = load_plan(path, self._registry)
        except PlanError as error:
            if cached is None:
                raise
            if self.warnings.get(path) != str(error):
                log.error("plan %s changed but is invalid; keeping the previous version:\n%s", path, error)
            self.warnings[path] = str(error)
            return cached[1]
        self.warnings.pop(path, None)
        self._plans[path] = (mtime, plan)
        return plan


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
        self._plan_files = _PlanFiles(registry)
        # Validate every configured plan before anything starts: a broken plan refuses the start.
        plans = {thread.plan_path: self._plan_files.get(thread.plan_path) for thread in config.threads}
        config.home.mkdir(parents=True, exist_ok=True)
        self._home_lock = _lock_home(config.home)
        for thread in config.threads:
            thread.location.mkdir(parents=True, exist_ok=True)
        self.store = store or TaskStore.in_home(config.home)
        self._threads = [SealingThread(self, thread, plans[thread.plan_path]) for thread in config.threads]
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
        log.info("worker %s: %d sealing threads, home %s", self.config.name, len(self._threads), self.config.home)
        await self.processors.start()
        runners = [asyncio.create_task(thread.run(), name=f"thread-{thread.index}") for thread in self._threads]
        try:
            await asyncio.gather(*runners)
        finally:
            for runner in runners:
                runner.cancel()
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
        asyncio.get_running_loop().call_later(self.config.worker.drain_timeout, self._cancel_running_steps)

    def _cancel_running_steps(self) -> None:
        for thread in self._threads:
            thread.cancel_step()

    # -- plans ------------------------------------------------------------------------------------------------

    def current_plan(self, thread: SealingThread) -> Plan:
        """The thread's configured plan as its file is now (re-read when edited, last good version kept)."""
        return self._plan_files.get(thread.config.plan_path)

    def plan_for_task(self, thread: SealingThread, task: TaskRecord) -> Plan:
        """An open task keeps the plan it started with, even if the thread's configuration changed since."""
        path = Path(task.plan_path)
        try:
            return self._plan_files.get(path)
        except PlanError as error:
            log.error(
                "thread %d: the plan of task %d no longer loads (%s); using %s",
                thread.index,
                task.id,
                error.faults[0],
                thread.plan.name,
            )
            return thread.plan

    def plan_warnings(self) -> dict[str, str]:
        return {str(path): text for path, text in self._plan_files.warnings.items()}

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
            raise ThreadNotFound(f"thread #{index} not found (this worker has threads 0 to {len(self._threads) - 1})")
        return self._threads[index]

    def threads(self) -> list[ThreadInfo]:
        return [thread.info() for thread in self._threads]

    def thread(self, index: int) -> ThreadInfo:
        return self._thread(index).info()

    def pause(self, index: int, *, now: bool = False) -> bool:
        return self._thread(index).pause(now=now)

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

    def history(self, index: int) -> list[HistoryEntry]:
        info = self._thread(index).info()
        return [] if info.task_id is None else self.store.history(info.task_id)

    def plans(self) -> dict[str, Plan]:
        return {thread.plan.name: thread.plan for thread in self._threads}

    def plan_of(self, index: int) -> Plan:
        thread = self._thread(index)
        return thread.task_plan or thread.plan

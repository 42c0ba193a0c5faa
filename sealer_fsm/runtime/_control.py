"""What the outside asks of a sealing thread, and how the thread waits: pause and resume requests, interruptible
sleeps, and riding out a store that cannot write (a full disk) without losing or inventing a state change.

Every pause, resume and abort is logged with who asked, the target, the force flag and the reason; every
temporary failure with its attempt count and the time of the next try.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.runtime._failures import Interrupted
from sealer_fsm.runtime._info import NotPaused, ThreadState
from sealer_fsm.runtime._resume import ResumeCheck, ResumeRequest, check_resume
from sealer_fsm.store import Commit, StoreUnavailable, TaskRecord

if TYPE_CHECKING:
    from sealer_fsm.plans import Plan
    from sealer_fsm.runtime._worker import Worker

log = logging.getLogger("sealer_fsm.runtime")
T = TypeVar("T")
# How often a thread whose store cannot write tries again (at most; a shorter recover_interval is used as is).
STORAGE_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class PauseRequest:
    actor: str
    reason: str | None
    now: bool


class ThreadControl:
    """The control half of a sealing thread; `SealingThread` adds the loop that walks the task."""

    def __init__(self, worker: Worker, index: int) -> None:
        self.worker = worker
        self.index = index
        self.log = logging.getLogger(f"sealer_fsm.thread.{index}")  # what its steps log through
        self.task: TaskRecord | None = None
        self._thread_state = ThreadState.IDLE
        self._thread_state_since = worker.clock.monotonic()
        self._waiting_for: str | None = None  # while Waiting: what for
        self._proc: str | None = None  # while Running a stage: the processor running it
        self._pause_request: PauseRequest | None = None
        self._cancelled_by_pause = False
        self._resume_request: ResumeRequest | None = None
        self._wakeup = asyncio.Event()
        self._step: asyncio.Future[Any] | None = None
        # Blocking work started by this thread's steps that has not returned yet, cancelled step or not.
        self._blocking: set[concurrent.futures.Future[Any]] = set()
        # Set while the store refuses writes (a full disk): the thread shows as paused until a write succeeds.
        self._storage_error: str | None = None
        self._storage_since: float | None = None

    def current_plan(self) -> Plan:
        raise NotImplementedError

    # -- requests from the worker's public API ----------------------------------------------------------------

    def pause(self, now: bool = False, actor: str = "operator", reason: str | None = None) -> bool:
        """Ask the thread to pause at its next checkpoint (or at once, cancelling the step, with `now`).

        Returns False when the thread is already paused or a pause is already pending (a `now` still cancels).
        """
        if self.task is not None and self.task.paused:
            return False
        already_pending = self._pause_request is not None
        if not already_pending:
            self._pause_request = PauseRequest(actor, reason, now)
        log.info(
            "thread %d: pause requested by %s (now=%s, reason=%s)%s",
            self.index,
            actor,
            now,
            _quoted(reason),
            " while one is pending" if already_pending else "",
        )
        self._wakeup.set()
        if now and self._step is not None and not self._step.done():
            self._cancelled_by_pause = True
            self._step.cancel()
            return True
        return not already_pending

    def check_resume(self, state: str, force: bool = False) -> ResumeCheck:
        """Where a resume into `state` would take the paused task; raises NotPaused or StateRefused."""
        return check_resume(self.current_plan(), self._paused_task(), state, force)

    def resume(
        self, state: str | None = None, *, force: bool = False, reason: str | None = None, actor: str = "operator"
    ) -> bool:
        """Resume a paused thread, optionally into `state`; refuses (raising) without changing anything."""
        task = self._paused_task()
        target = None if state is None else check_resume(self.current_plan(), task, state, force).target
        self._resume_request = ResumeRequest(target, actor, reason, force)
        self._wakeup.set()
        return True

    def _paused_task(self) -> TaskRecord:
        task = self.task
        if self._storage_error is not None and (task is None or not task.paused):
            raise NotPaused(
                f"thread {self.index} waits for its store to accept writes again and resumes by itself"
                f" ({self._storage_error})"
            )
        if task is None or not task.paused or self._resume_request is not None:
            raise NotPaused(f"thread {self.index} is not paused")
        return task

    def interrupt_requested(self) -> bool:
        return self._pause_request is not None or self.worker.draining

    def wake(self) -> None:
        self._wakeup.set()

    def cancel_step(self) -> None:
        if self._step is not None and not self._step.done():
            self._step.cancel()

    # -- waiting ----------------------------------------------------------------------------------------------

    async def wait_interruptibly(self, seconds: float, *, pause_interrupts: bool = True) -> None:
        """Sleep up to `seconds`; returns early when a drain (or, unless told otherwise, a pause or resume) wakes
        the thread."""
        interrupted = self.interrupt_requested() if pause_interrupts else self.worker.draining
        if interrupted or seconds <= 0:
            await asyncio.sleep(0)
            return
        self._wakeup.clear()
        # A timer that sets the same event costs less than wait_for's extra task: this runs for every idle
        # thread on every poll.
        timer = asyncio.get_running_loop().call_later(seconds, self._wakeup.set)
        try:
            while True:
                await self._wakeup.wait()
                if pause_interrupts or self.worker.draining or timer.when() <= asyncio.get_running_loop().time():
                    return
                self._wakeup.clear()  # a pause request does not end a wait for the store
        finally:
            timer.cancel()

    @contextmanager
    def waiting_state(self, what: str | None = None) -> Iterator[None]:
        self.report_stage(what or "a shared resource", None)
        try:
            yield
        finally:
            self.report_stage(None, None)

    def report_stage(self, waiting_for: str | None, proc: str | None) -> None:
        """What a running step's stage call waits for (the thread is Waiting), or where it runs (Running)."""
        self._set_thread_state(ThreadState.WAITING if waiting_for is not None else ThreadState.RUNNING)
        self._waiting_for, self._proc = waiting_for, proc

    def _set_thread_state(self, state: ThreadState) -> None:
        if state is not self._thread_state:
            self._thread_state = state
            self._thread_state_since = self.worker.clock.monotonic()
            self._waiting_for = self._proc = None

    # -- blocking work -----------------------------------------------------------------------------------------

    async def run_blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function` on one of the worker's blocking threads and await it; the work is tracked until it
        returns, even after the awaiting step was cancelled, so that the task's next step never starts beside it."""
        work = self.worker.blocking_pool.submit(function, *args, **kwargs)
        self._blocking.add(work)
        work.add_done_callback(self._blocking.discard)
        return await asyncio.wrap_future(work)

    def blocking_work(self) -> tuple[concurrent.futures.Future[Any], ...]:
        return tuple(self._blocking)

    async def _settle_blocking_work(self) -> None:
        """Wait until the blocking work of a cancelled step has returned (its cancel token was set, so work that
        polls it stops within moments); Interrupted when the worker drains meanwhile."""
        if not self._blocking:
            return
        log.warning(
            "thread %d: waiting for %d blocking call(s) of the cancelled step to return before going on",
            self.index,
            len(self._blocking),
        )
        previous = self._thread_state
        self._set_thread_state(ThreadState.WAITING)
        try:
            while pending := self.blocking_work():
                if self.worker.draining:
                    raise Interrupted()
                await wait_for_work(pending, timeout=0.05)
        finally:
            self._set_thread_state(previous)

    # -- writing through a failing store ----------------------------------------------------------------------

    async def _durably(self, write: Callable[[], Commit[T]]) -> T:
        """Commit `write()`; while the store cannot write (full disk, read-only, I/O error) the thread shows as
        paused with the error and tries again, until the write lands or the worker drains (Interrupted)."""
        while True:
            try:
                result = await write()
            except StoreUnavailable as error:
                await self._wait_for_storage(str(error))
                continue
            if self._storage_error is not None:
                log.warning("thread %d: the store accepts writes again; resuming", self.index)
                self._storage_error = self._storage_since = None
                self._set_thread_state(ThreadState.IDLE)
            return result

    async def _wait_for_storage(self, error: str) -> None:
        if error != self._storage_error:
            log.error("thread %d: paused until the store can write again: %s", self.index, error)
        if self._storage_error is None:
            self._storage_since = self.worker.clock.now()
        self._storage_error = error
        self._set_thread_state(ThreadState.PAUSED)
        if self.worker.draining:
            raise Interrupted()
        interval = min(max(self.worker.config.sealing.recover_interval, 0.01), STORAGE_RETRY_SECONDS)
        await self.wait_interruptibly(interval, pause_interrupts=False)
        if self.worker.draining:
            raise Interrupted()

    # -- what the log says ------------------------------------------------------------------------------------

    def _log_paused(self, actor: str, reason: str | None) -> None:
        task = self.task
        log.warning(
            "thread %d: %s paused by %s in %s (reason=%s)",
            self.index,
            (task.sector if task else None) or "-",
            actor,
            task.state if task else "-",
            _quoted(reason),
        )

    def _log_resumed(self, request: ResumeRequest, source: str) -> None:
        task = self.task
        target = request.state or source
        verb = "aborted" if task is not None and task.state == ABORT_STATE != source else "resumed"
        log.warning(
            "thread %d: %s %s by %s: %s -> %s (force=%s, reason=%s)",
            self.index,
            (task.sector if task else None) or "-",
            verb,
            request.actor,
            source,
            target,
            request.force,
            _quoted(request.reason),
        )

    @staticmethod
    def clock_text(at: float) -> str:
        return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


async def wait_for_work(works: Iterable[concurrent.futures.Future[Any]], timeout: float) -> int:
    """Wait up to `timeout` for blocking work to end, whatever it ended with (its step has dealt with that, or
    was cancelled); returns how many are still running."""
    waiters = [asyncio.wrap_future(work) for work in works]
    done, running = await asyncio.wait(waiters, timeout=timeout)
    for waiter in done:
        if not waiter.cancelled():
            waiter.exception()  # seen here, so asyncio does not report it as never retrieved
    return len(running)


def _quoted(reason: str | None) -> str:
    return "none" if reason is None else repr(reason)

"""One sealing thread: takes one task at a time and walks it through its plan.

The loop is the only writer of its task. Control requests (pause, resume) arrive from the event loop's other
coroutines: they are validated synchronously (so a refusal reaches the caller and changes nothing) and then
handed to the loop, which applies them at its next checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sealer_fsm.machine import EventNotAllowed, StateChange, TaskMachine
from sealer_fsm.plans import ABORT_EVENT, ABORT_STATE, Plan, StateSpec
from sealer_fsm.registry import UnknownStep
from sealer_fsm.runtime._context import IDLE, Outcome, StepContext, invoke_step
from sealer_fsm.runtime._failures import Critical, Interrupted, Level, Permanent, StepFailure
from sealer_fsm.runtime._info import NotPaused, ThreadInfo, ThreadState
from sealer_fsm.runtime._resume import ResumeRequest, resume_target, retry_policy
from sealer_fsm.store import Change, StaleTaskError, TaskRecord

if TYPE_CHECKING:
    from sealer_fsm.config import ThreadConfig
    from sealer_fsm.runtime._worker import Worker

log = logging.getLogger("sealer_fsm.runtime")

FORCED_EVENT = "SetState"
_HANDLED = object()  # a step ended in a failure or interrupt the thread already dealt with


class SealingThread:
    def __init__(self, worker: Worker, config: ThreadConfig, plan: Plan) -> None:
        self.worker = worker
        self.config = config
        self.index = config.index
        self.plan = plan  # the plan new tasks start with; an open task keeps the plan it was started with
        self.task: TaskRecord | None = None
        self.task_plan: Plan | None = None
        self.machine: TaskMachine | None = None
        self._thread_state = ThreadState.IDLE
        self._thread_state_since = worker.clock.monotonic()
        self._waiting_for: str | None = None  # while Waiting: what for
        self._proc: str | None = None  # while Running a stage: the processor running it
        self._pause_requested = False
        self._cancelled_by_pause = False
        self._resume_request: ResumeRequest | None = None
        self._wakeup = asyncio.Event()
        self._step: asyncio.Future[Any] | None = None
        # who asked for the transition being applied, and why; read by the machine's persistence callback
        self._annotation: dict[str, Any] = {}

    # -- control, called by the worker's public API -----------------------------------------------------------

    def info(self) -> ThreadInfo:
        task, plan = self.task, self.task_plan or self.plan
        state = task.state if task else None
        stage, simulated = "-", False
        if state is not None and plan.canonical_state(state) is not None:
            spec = plan.state(state)
            stage = spec.stage
            simulated = spec.step is not None and self.worker.registry.is_simulated(spec.step)
        return ThreadInfo(
            index=self.index,
            location=str(self.config.location),
            plan=plan.name,
            sector=task.sector if task else None,
            state=state,
            stage=stage,
            simulated=simulated,
            thread_state=self._thread_state,
            thread_state_elapsed=self.worker.clock.monotonic() - self._thread_state_since,
            elapsed=(self.worker.clock.now() - task.state_since) if task else 0.0,
            retry=task.retry if task else 0,
            last_error=task.last_error if task else None,
            paused=bool(task and task.paused),
            pause_pending=self._pause_requested,
            task_id=task.id if task else None,
            waiting_for=self._waiting_for,
            proc=self._proc,
        )

    def pause(self, now: bool = False) -> bool:
        """Ask the thread to pause at its next checkpoint (or at once, cancelling the step, with `now`).

        Returns False when the thread is already paused or a pause is already pending.
        """
        if self.task is not None and self.task.paused:
            return False
        already_pending = self._pause_requested
        self._pause_requested = True
        self._wakeup.set()
        if now and self._step is not None and not self._step.done():
            self._cancelled_by_pause = True
            self._step.cancel()
            return True
        return not already_pending

    def resume(
        self, state: str | None = None, *, force: bool = False, reason: str | None = None, actor: str = "operator"
    ) -> bool:
        """Resume a paused thread, optionally into `state`; refuses (raising) without changing anything."""
        task = self.task
        if task is None or not task.paused or self._resume_request is not None:
            raise NotPaused(f"thread {self.index} is not paused")
        target = None
        if state is not None:
            target = resume_target(self.task_plan or self.plan, task, state, force)
        self._resume_request = ResumeRequest(target, actor, reason)
        self._wakeup.set()
        return True

    def interrupt_requested(self) -> bool:
        return self._pause_requested or self.worker.draining

    def wake(self) -> None:
        self._wakeup.set()

    def cancel_step(self) -> None:
        if self._step is not None and not self._step.done():
            self._step.cancel()

    async def wait_interruptibly(self, seconds: float) -> None:
        """Sleep up to `seconds`; returns early when a pause, resume or drain wakes the thread."""
        if self.interrupt_requested() or seconds <= 0:
            await asyncio.sleep(0)
            return
        self._wakeup.clear()
        # A timer that sets the same event costs less than wait_for's extra task: this runs for every idle
        # thread on every poll.
        timer = asyncio.get_running_loop().call_later(seconds, self._wakeup.set)
        try:
            await self._wakeup.wait()
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

    # -- the loop ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._load_open_task()
        while not self.worker.draining:
            try:
                await self._iterate()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug must pause this thread, not take the worker down
                log.exception("thread %d: unexpected error", self.index)
                if self.task is not None:
                    self._pause_with(Critical(f"unexpected error in thread loop: {error!r}"))
                else:
                    await self.wait_interruptibly(self.config.sealing.recover_interval)
        self._set_thread_state(ThreadState.PAUSED if self.task and self.task.paused else ThreadState.IDLE)

    async def _iterate(self) -> None:
        if self.task is None:
            self._start_task()
        assert self.task is not None and self.task_plan is not None
        if self.task.paused:
            await self._wait_for_resume()
        elif self._pause_requested:
            self._pause_with(None)
        elif self.machine is None:
            self._pause_with(Critical(f"state {self.task.state!r} is not in plan {self.task_plan.name!r}"))
        elif self.task_plan.is_final(self.task.state):
            await self._finish_task()
        else:
            result = await self._execute(self.task_plan.state(self.task.state))
            if result is not _HANDLED:
                await self._apply_result(result)

    def _load_open_task(self) -> None:
        task = self.worker.store.open_task(self.index)
        if task is None:
            return
        self.task = task
        self.task_plan = self.worker.plan_for_task(self, task)
        self._build_machine()
        if task.paused:
            self._set_thread_state(ThreadState.PAUSED)

    def _start_task(self) -> None:
        self.plan = self.worker.current_plan(self)
        self.task = self.worker.store.create_task(
            self.index,
            self.plan.name,
            str(self.config.plan_path),
            self.plan.initial,
            self.worker.clock.now(),
            paused=self._pause_requested,
        )
        self.task_plan = self.plan
        if self._pause_requested:
            self._pause_requested = False
            self._set_thread_state(ThreadState.PAUSED)
        self._build_machine()

    def _build_machine(self) -> None:
        assert self.task is not None and self.task_plan is not None
        if self.task_plan.canonical_state(self.task.state) != self.task.state:
            self.machine = None
        elif self.machine is not None and self.machine.plan is self.task_plan:
            self.machine.force(self.task.state)  # one machine per thread, reused while its plan is unchanged
        else:
            self.machine = TaskMachine(self.task_plan, self.task.state, self._persist_change)

    def _persist_change(self, change: StateChange) -> None:
        """Called by the machine inside each transition: history row and new state in one transaction."""
        assert self.task is not None
        note = self._annotation
        self.worker.store.record(
            self.task,
            Change(
                source=change.source,
                event=change.event,
                destination=change.destination,
                at=self.worker.clock.now(),
                data_updates=change.payload,
                failure=note.get("failure"),
                actor=note.get("actor", "step"),
                reason=note.get("reason"),
            ),
        )

    def _apply_event(self, event: str, data: dict[str, Any], **annotation: Any) -> None:
        assert self.machine is not None and self.task is not None
        source = self.task.state
        self._annotation = annotation
        try:
            self.machine.apply(event, data)
        finally:
            self._annotation = {}
        log.info("thread %d: %s %s --%s--> %s", self.index, self.task.sector or "-", source, event, self.task.state)
        self.worker.notify("state_changed", self, source, event, self.task.state)

    async def _execute(self, spec: StateSpec) -> Any:
        """Run the state's step; returns its result, or _HANDLED once a failure or interrupt was dealt with."""
        assert self.task is not None and self.task_plan is not None and spec.step is not None
        try:
            function = self.worker.registry.resolve(spec.step)
        except UnknownStep as error:
            self._pause_with(Critical(str(error)))
            return _HANDLED
        context = StepContext(self, self.task_plan, spec.name, self.task.data)
        self._set_thread_state(ThreadState.RUNNING)
        started = self.worker.clock.monotonic()
        level: Level | None = None
        self._cancelled_by_pause = False
        self._step = asyncio.ensure_future(invoke_step(function, context))
        try:
            return await self._step
        except asyncio.CancelledError:
            context.cancel_token.cancel()  # stops the step's blocking computations between chunks
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            if self._cancelled_by_pause:
                self._pause_with(None)
            return _HANDLED
        except Interrupted:
            if self._pause_requested:
                self._pause_with(None)
            return _HANDLED
        except StepFailure as failure:
            level = failure.level
            await self._handle_failure(failure, spec)
            return _HANDLED
        except Exception as error:
            log.exception("thread %d: step %s crashed", self.index, spec.step)
            level = Level.CRITICAL
            self._pause_with(Critical(f"step {spec.step!r} crashed: {error!r}"))
            return _HANDLED
        finally:
            self._step = None
            if self._thread_state is ThreadState.RUNNING:
                self._set_thread_state(ThreadState.IDLE)
            seconds = self.worker.clock.monotonic() - started
            self.worker.notify("step_finished", self, spec.name, seconds, level)

    async def _apply_result(self, result: Any) -> None:
        if result is IDLE:
            await self.wait_interruptibly(self.config.sealing.recover_interval)
            return
        outcome = Outcome(result) if isinstance(result, str) else result
        if not isinstance(outcome, Outcome):
            self._pause_with(Critical(f"step returned {result!r} instead of an event"))
            return
        try:
            self._apply_event(outcome.event, dict(outcome.data))
        except EventNotAllowed as error:
            self._pause_with(Critical(str(error)))
        except StaleTaskError as error:
            self._pause_with(Critical(str(error)))

    async def _handle_failure(self, failure: StepFailure, spec: StateSpec) -> None:
        assert self.task is not None
        if failure.level is Level.ABORT and self.task.state == ABORT_STATE:
            failure = Permanent(f"{failure.message} (while cleaning up the aborted task)")
        elif failure.level is Level.ABORT:
            self._apply_event(ABORT_EVENT, {}, failure=str(failure))
            return
        if failure.level is Level.TEMPORARY:
            max_retries, interval = retry_policy(spec, self.config.sealing)
            if self.task.retry < max_retries:
                self._record_failure(str(failure), retry=self.task.retry + 1, paused=False)
                self.worker.notify("failure", self, failure.level)
                await self.wait_interruptibly(interval)
                return
            failure = Permanent(f"{failure.message} (gave up after {max_retries} retries)")
        self.worker.notify("failure", self, failure.level)
        self._pause_with(failure)

    def _record_failure(self, text: str, *, retry: int, paused: bool) -> None:
        assert self.task is not None
        state = self.task.state
        self.worker.store.record(
            self.task,
            Change(
                state, None, state, self.worker.clock.now(), failure=text, retry=retry, paused=paused, last_error=text
            ),
        )

    def _pause_with(self, failure: StepFailure | None) -> None:
        """Pause the task: with a failure it is recorded in history and kept as last_error."""
        assert self.task is not None
        self._pause_requested = False
        if failure is None:
            self.worker.store.update_control(
                self.task, retry=self.task.retry, paused=True, last_error=self.task.last_error
            )
        else:
            log.warning("thread %d: paused: %s", self.index, failure)
            self._record_failure(str(failure), retry=self.task.retry, paused=True)
        self._set_thread_state(ThreadState.PAUSED)

    async def _wait_for_resume(self) -> None:
        self._set_thread_state(ThreadState.PAUSED)
        while self._resume_request is None and not self.worker.draining:
            self._wakeup.clear()
            if self._resume_request is not None or self.worker.draining:
                break
            await self._wakeup.wait()
        request, self._resume_request = self._resume_request, None
        if request is None:
            return
        self._apply_resume(request)

    def _apply_resume(self, request: ResumeRequest) -> None:
        task = self.task
        assert task is not None and self.task_plan is not None
        self._pause_requested = False
        if request.state is None or request.state == task.state:
            self.worker.store.update_control(task, retry=0, paused=False, last_error=None)
        elif request.state == ABORT_STATE and self.machine is not None:
            self._apply_event(ABORT_EVENT, {}, actor=request.actor, reason=request.reason)
        else:
            source = task.state
            self.worker.store.record(
                task,
                Change(
                    source,
                    FORCED_EVENT,
                    request.state,
                    self.worker.clock.now(),
                    actor=request.actor,
                    reason=request.reason,
                ),
            )
            self._build_machine()
            log.info(
                "thread %d: %s forced %s -> %s by %s",
                self.index,
                task.sector or "-",
                source,
                request.state,
                request.actor,
            )
            self.worker.notify("state_changed", self, source, FORCED_EVENT, request.state)
        log.info("thread %d: resumed by %s", self.index, request.actor)
        self._set_thread_state(ThreadState.IDLE)

    async def _finish_task(self) -> None:
        """Run the final state's step (report finalized, clean an aborted sector), then close the task."""
        assert self.task is not None and self.task_plan is not None
        spec = self.task_plan.state(self.task.state)
        if spec.step is not None and await self._execute(spec) is _HANDLED:
            return
        task = self.task
        self.worker.store.close_task(task, self.worker.clock.now())
        log.info("thread %d: task %d (%s) closed in %s", self.index, task.id, task.sector or "-", task.state)
        self.task, self.task_plan = None, None
        self._set_thread_state(ThreadState.IDLE)
        self.worker.notify("task_closed", self, task)
        await self.wait_interruptibly(self.config.sealing.seal_interval)

    def _set_thread_state(self, state: ThreadState) -> None:
        if state is not self._thread_state:
            self._thread_state = state
            self._thread_state_since = self.worker.clock.monotonic()
            self._waiting_for = self._proc = None

"""One sealing thread: takes one task at a time and walks it through its plan.

The loop is the only writer of its task. Control requests (pause, resume) arrive from the event loop's other
coroutines: they are validated synchronously (so a refusal reaches the caller and changes nothing) and then
handed to the loop, which applies them at its next checkpoint. Every write is awaited (it commits on the store's
writer thread), and the task held in memory is replaced by what the store committed, never changed before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sealer_fsm.machine import EventNotAllowed, StateChange, TaskMachine
from sealer_fsm.plans import ABORT_EVENT, ABORT_STATE, SET_STATE_EVENT, Plan, StateSpec
from sealer_fsm.registry import UnknownStep
from sealer_fsm.runtime._context import IDLE, SECTOR_KEY, Outcome, StepContext, invoke_step
from sealer_fsm.runtime._control import ThreadControl
from sealer_fsm.runtime._failures import Critical, Interrupted, Level, Permanent, StepFailure
from sealer_fsm.runtime._info import ThreadInfo, ThreadState
from sealer_fsm.runtime._plans import PlanVersion
from sealer_fsm.runtime._resume import ResumeRequest, retry_policy
from sealer_fsm.store import Change, Deferred, Pause, StaleTaskError

if TYPE_CHECKING:
    from sealer_fsm.config import ThreadConfig
    from sealer_fsm.runtime._worker import Worker

log = logging.getLogger("sealer_fsm.runtime")

FORCED_EVENT = SET_STATE_EVENT
_HANDLED = object()  # a step ended in a failure or interrupt the thread already dealt with
# Who the runtime names as the actor of what it does on its own (a failure's pause, an abort by a step).
WORKER_ACTOR = "worker"


class SealingThread(ThreadControl):
    def __init__(self, worker: Worker, config: ThreadConfig, plan: Plan) -> None:
        super().__init__(worker, config.index)
        self.config = config
        self.plan = plan  # the plan new tasks start with; an open task keeps the plan it was started with
        self.task_plan: Plan | None = None
        self.machine: TaskMachine | None = None
        self._idles = 0  # Idle answers in this attempt (see request_task_max_retries)
        # who asked for the transition being applied, and why; read by the machine's persistence callback
        self._annotation: dict[str, Any] = {}

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
            last_error=self._storage_error or (task.last_error if task else None),
            paused=bool(task and task.paused) or self._storage_error is not None,
            pause_pending=self._pause_request is not None,
            task_id=task.id if task else None,
            paused_by=WORKER_ACTOR if self._storage_error else (task.paused_by if task else None),
            paused_at=self._storage_since if self._storage_error else (task.paused_at if task else None),
            pause_reason=self._storage_error or (task.pause_reason if task else None),
            waiting_for=self._waiting_for,
            proc=self._proc,
        )

    def current_plan(self) -> Plan:
        return self.task_plan or self.plan

    # -- the loop ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            self._load_open_task()
            while not self.worker.draining:
                try:
                    await self._iterate()
                except Interrupted:
                    continue  # the worker drains while this thread waited for its store
                except Exception as error:  # a bug must pause this thread, not take the worker down
                    log.exception("thread %d: unexpected error", self.index)
                    await self._pause_after_bug(error)
        finally:
            self._set_thread_state(ThreadState.PAUSED if self.task and self.task.paused else ThreadState.IDLE)

    async def _pause_after_bug(self, error: Exception) -> None:
        try:
            if self.task is not None:
                await self._pause_with(Critical(f"unexpected error in thread loop: {error!r}"))
                return
        except Interrupted:
            return
        except Exception:
            log.exception("thread %d: could not record the pause either", self.index)
        await self.wait_interruptibly(self.config.sealing.recover_interval)

    async def _iterate(self) -> None:
        if self.task is None:
            await self._start_task()
        assert self.task is not None and self.task_plan is not None
        if self.task.paused:
            await self._wait_for_resume()
        elif self._pause_request is not None:
            await self._pause_with(None)
        else:
            await self._settle_blocking_work()
            await self._run_state()

    async def _run_state(self) -> None:
        assert self.task is not None and self.task_plan is not None
        if self.machine is None:
            await self._pause_with(Critical(f"state {self.task.state!r} is not in plan {self.task_plan.name!r}"))
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

    async def _start_task(self) -> None:
        version = await self._keep_current_plan()
        request = self._pause_request
        pause = None if request is None else Pause(request.actor, request.reason)
        self._idles = 0
        self.task = await self._durably(
            lambda: self.worker.store.create_task(
                self.index,
                self.plan.name,
                str(self.config.plan_path),
                self.plan.initial,
                self.worker.clock.now(),
                plan_hash=version.digest,
                pause=pause,
            )
        )
        self.task_plan = self.plan
        if request is not None:
            self._pause_request = None
            self._log_paused(request.actor, request.reason)
            self._set_thread_state(ThreadState.PAUSED)
        self._build_machine()

    async def _keep_current_plan(self) -> PlanVersion:
        """The thread's plan file as it is now, stored (by digest) so a task can follow this version for ever."""
        version = self.worker.current_plan(self)
        self.plan = version.plan
        if version.digest not in self.worker.kept_plans:
            path = str(self.config.plan_path)
            await self._durably(
                lambda: self.worker.store.keep_plan(version.digest, version.plan.name, path, version.text)
            )
            self.worker.kept_plans.add(version.digest)
        return version

    async def _end_attempt(self) -> None:
        """More Idle answers than request_task_max_retries: as the reference, end this attempt, wait seal_interval,
        take the plan file as it is now (for a task that has not moved yet), and ask again."""
        idles, self._idles = self._idles, 0
        log.info(
            "thread %d: no work after %d asks (request_task_max_retries = %d); asking again in %g s",
            self.index,
            idles,
            self.config.sealing.request_task_max_retries,
            self.config.sealing.seal_interval,
        )
        self.worker.notify("attempt_ended", self, idles)
        await self.wait_interruptibly(self.config.sealing.seal_interval)
        task = self.task
        if task is None or task.prev_state is not None or self._pause_request is not None or self.worker.draining:
            return
        version = await self._keep_current_plan()
        if version.digest != task.plan_hash and version.plan.initial == task.state:
            self.task = await self._durably(lambda: self.worker.store.update_plan(task, version.digest))
            self.task_plan = version.plan
            self._build_machine()

    def _build_machine(self) -> None:
        assert self.task is not None and self.task_plan is not None
        if self.machine is not None and self.machine.plan is self.task_plan and self._known(self.task.state):
            self.machine.force(self.task.state)  # one model per thread, reused while its plan is unchanged
            return
        if self.machine is not None:
            self.machine.release()
        known = self._known(self.task.state)
        self.machine = TaskMachine(self.task_plan, self.task.state, self._persist_change) if known else None

    def _known(self, state: str) -> bool:
        assert self.task_plan is not None
        return self.task_plan.canonical_state(state) == state

    async def _persist_change(self, change: StateChange) -> None:
        """Called by the machine inside each transition: history row and new state in one transaction."""
        task = self.task
        assert task is not None
        note = self._annotation
        data = {**task.data, **change.payload}
        self.task = await self._durably(
            lambda: self.worker.store.record(
                task,
                Change(
                    source=change.source,
                    event=change.event,
                    destination=change.destination,
                    at=self.worker.clock.now(),
                    data_updates=change.payload,
                    failure=note.get("failure"),
                    actor=note.get("actor", "step"),
                    reason=note.get("reason"),
                    sector=data.get(SECTOR_KEY),
                ),
            )
        )

    async def save_data(self, updates: dict[str, Any]) -> None:
        task = self.task
        assert task is not None
        self.task = await self._durably(lambda: self.worker.store.save_data(task, updates))

    async def defer(self, deferred: Deferred) -> None:
        await self._durably(lambda: self.worker.store.defer(deferred))
        self.worker.deferred_calls.added(deferred)

    async def _apply_event(self, event: str, data: dict[str, Any], **annotation: Any) -> None:
        assert self.machine is not None and self.task is not None
        source = self.task.state
        self._annotation = annotation
        try:
            await self.machine.apply(event, data)
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
            await self._pause_with(Critical(str(error)))
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
                await self._pause_with(None)
            return _HANDLED
        except Interrupted:
            if self._pause_request is not None:
                await self._pause_with(None)
            return _HANDLED
        except StepFailure as failure:
            level = failure.level
            await self._handle_failure(failure, spec)
            return _HANDLED
        except Exception as error:
            log.exception("thread %d: step %s crashed", self.index, spec.step)
            level = Level.CRITICAL
            await self._pause_with(Critical(f"step {spec.step!r} crashed: {error!r}"))
            return _HANDLED
        finally:
            self._step = None
            if self._thread_state is ThreadState.RUNNING:
                self._set_thread_state(ThreadState.IDLE)
            seconds = self.worker.clock.monotonic() - started
            self.worker.notify("step_finished", self, spec.name, seconds, level)

    async def _apply_result(self, result: Any) -> None:
        if result is IDLE:
            self._idles += 1
            if self._idles > self.config.sealing.request_task_max_retries:
                await self._end_attempt()
            else:
                await self.wait_interruptibly(self.config.sealing.recover_interval)
            return
        outcome = Outcome(result) if isinstance(result, str) else result
        if not isinstance(outcome, Outcome):
            await self._pause_with(Critical(f"step returned {result!r} instead of an event"))
            return
        try:
            await self._apply_event(outcome.event, dict(outcome.data))
        except (EventNotAllowed, StaleTaskError) as error:
            await self._pause_with(Critical(str(error)))

    async def _handle_failure(self, failure: StepFailure, spec: StateSpec) -> None:
        assert self.task is not None
        if failure.level is Level.ABORT and self.task.state == ABORT_STATE:
            failure = Permanent(f"{failure.message} (while cleaning up the aborted task)")
        elif failure.level is Level.ABORT:
            log.warning(
                "thread %d: %s aborted in %s by %s: %s",
                self.index,
                self.task.sector or "-",
                self.task.state,
                WORKER_ACTOR,
                failure,
            )
            await self._apply_event(ABORT_EVENT, {}, failure=str(failure))
            return
        if failure.level is Level.TEMPORARY:
            max_retries, interval = retry_policy(spec, self.config.sealing)
            if self.task.retry < max_retries:
                self._log_retry(failure, self.task.retry + 1, max_retries, interval)
                await self._record_failure(str(failure), retry=self.task.retry + 1, pause=None)
                self.worker.notify("failure", self, failure.level)
                await self.wait_interruptibly(interval)
                return
            failure = Permanent(f"{failure.message} (gave up after {max_retries} retries)")
        self.worker.notify("failure", self, failure.level)
        await self._pause_with(failure)

    def _log_retry(self, failure: StepFailure, attempt: int, max_retries: int, interval: float) -> None:
        assert self.task is not None
        log.warning(
            "thread %d: %s in %s: %s; retry %d of %d at %s (in %g s)",
            self.index,
            self.task.sector or "-",
            self.task.state,
            failure,
            attempt,
            max_retries,
            self.clock_text(self.worker.clock.now() + interval),
            interval,
        )

    async def _record_failure(self, text: str, *, retry: int, pause: Pause | None) -> None:
        task = self.task
        assert task is not None
        state = task.state
        self.task = await self._durably(
            lambda: self.worker.store.record(
                task,
                Change(
                    state, None, state, self.worker.clock.now(), failure=text, retry=retry, pause=pause, last_error=text
                ),
            )
        )

    async def _pause_with(self, failure: StepFailure | None) -> None:
        """Pause the task: for an operator's request with who and why; with a failure it is recorded in history
        and kept as last_error."""
        task = self.task
        assert task is not None
        request = self._pause_request
        if failure is None:
            actor, reason = (request.actor, request.reason) if request else (WORKER_ACTOR, None)
            self.task = await self._durably(
                lambda: self.worker.store.update_control(
                    task,
                    retry=task.retry,
                    pause=Pause(actor, reason),
                    last_error=task.last_error,
                    at=self.worker.clock.now(),
                )
            )
        else:
            actor, reason = WORKER_ACTOR, str(failure)
            await self._record_failure(reason, retry=task.retry, pause=Pause(actor, reason))
        self._pause_request = None
        self._log_paused(actor, reason)
        self._set_thread_state(ThreadState.PAUSED)

    async def _wait_for_resume(self) -> None:
        self._set_thread_state(ThreadState.PAUSED)
        while self._resume_request is None and not self.worker.draining:
            self._wakeup.clear()
            if self._resume_request is not None or self.worker.draining:
                break
            await self._wakeup.wait()
        request = self._resume_request
        if request is not None:
            await self._settle_blocking_work()
            await self._apply_resume(request)
            self._resume_request = None

    async def _apply_resume(self, request: ResumeRequest) -> None:
        task = self.task
        assert task is not None and self.task_plan is not None
        self._pause_request = None
        source = task.state
        if request.state is None or request.state == task.state:
            self.task = await self._durably(
                lambda: self.worker.store.update_control(
                    task, retry=0, pause=None, last_error=None, at=self.worker.clock.now()
                )
            )
        elif request.state == ABORT_STATE and self.machine is not None:
            await self._apply_event(ABORT_EVENT, {}, actor=request.actor, reason=request.reason)
        else:
            self.task = await self._durably(
                lambda: self.worker.store.record(
                    task,
                    Change(
                        source,
                        FORCED_EVENT,
                        request.state or source,
                        self.worker.clock.now(),
                        actor=request.actor,
                        reason=request.reason,
                    ),
                )
            )
            self._build_machine()
            self.worker.notify("state_changed", self, source, FORCED_EVENT, request.state)
        self._log_resumed(request, source)
        self._set_thread_state(ThreadState.IDLE)

    async def _finish_task(self) -> None:
        """Run the final state's step (report finalized, clean an aborted sector), then close the task."""
        assert self.task is not None and self.task_plan is not None
        spec = self.task_plan.state(self.task.state)
        if spec.step is not None and await self._execute(spec) is _HANDLED:
            return
        task = self.task
        closed = await self._durably(lambda: self.worker.store.close_task(task, self.worker.clock.now()))
        log.info("thread %d: task %d (%s) closed in %s", self.index, task.id, task.sector or "-", task.state)
        self.task, self.task_plan = None, None
        self._set_thread_state(ThreadState.IDLE)
        self.worker.notify("task_closed", self, closed)
        await self.wait_interruptibly(self.config.sealing.seal_interval)

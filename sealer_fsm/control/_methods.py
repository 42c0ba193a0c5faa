"""The control methods of one worker: the reference's `VenusWorker.*` and our own `SealerFsm.*`.

Each method is a thin translation between JSON and the Worker's public API; refusals of the runtime
(ControlError) become -32602 errors whose `data.kind` says which refusal it was, and change nothing.
Documented, with examples, in docs/control-rpc.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sealer_fsm import __version__
from sealer_fsm.plans import Plan
from sealer_fsm.rpc import INVALID_PARAMS, Method, Param, RpcError
from sealer_fsm.runtime import ControlError, NotPaused, StateRefused, ThreadNotFound, ThreadState, Worker

INDEX = Param("index", int)
STATE = Param("state", str, default=None, nullable=True)
_REFUSAL_KINDS = {ThreadNotFound: "thread_not_found", NotPaused: "not_paused", StateRefused: "state_refused"}


@contextmanager
def _refusals_as_rpc_errors() -> Iterator[None]:
    try:
        yield
    except ControlError as error:
        data: dict[str, Any] = {"kind": _REFUSAL_KINDS.get(type(error), "refused")}
        if isinstance(error, StateRefused):
            data["valid_states"] = error.valid_states
        raise RpcError(INVALID_PARAMS, str(error), data) from error


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan as the RPC returns it: the plan's own JSON plus the file it was read from."""
    return {**plan.to_json(), "source": str(plan.source) if plan.source else None}


class WorkerMethods:
    """The method table for one worker; every method runs on the event loop, like the worker itself."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def table(self) -> dict[str, Method]:
        return {
            "VenusWorker.WorkerList": Method(self.worker_list),
            "VenusWorker.WorkerPause": Method(self.pause, (INDEX,)),
            "VenusWorker.WorkerResume": Method(self.venus_resume, (INDEX, STATE)),
            "VenusWorker.WorkerVersion": Method(self.version),
            "SealerFsm.Info": Method(self.info),
            "SealerFsm.Pause": Method(
                self.pause,
                (INDEX, Param("now", bool, default=False), Param("reason", str, default=None, nullable=True)),
            ),
            "SealerFsm.Resume": Method(
                self.resume,
                (INDEX, STATE, Param("force", bool, default=False), Param("reason", str, default=None, nullable=True)),
            ),
            "SealerFsm.CheckResume": Method(
                self.check_resume, (INDEX, Param("state", str), Param("force", bool, default=False))
            ),
            "SealerFsm.History": Method(self.history, (INDEX,)),
            "SealerFsm.Plans": Method(self.plans),
            "SealerFsm.PlanOf": Method(self.plan_of, (INDEX,)),
        }

    def worker_list(self) -> list[dict[str, Any]]:
        """WorkerInfo per thread; `thread_state.elapsed` is time in the thread state, as the reference shows it."""
        return [info.to_worker_info() for info in self._worker.threads()]

    def version(self) -> str:
        return __version__

    def pause(self, index: int, now: bool = False, reason: str | None = None) -> bool:
        with _refusals_as_rpc_errors():
            return self._worker.pause(index, now=now, actor="operator", reason=reason)

    def venus_resume(self, index: int, state: str | None) -> bool:
        """The reference's resume: False (not an error) when the thread is not waiting for a resume."""
        try:
            return self.resume(index, state)
        except RpcError as error:
            if isinstance(error.__cause__, NotPaused):
                return False
            raise

    def resume(self, index: int, state: str | None, force: bool = False, reason: str | None = None) -> bool:
        with _refusals_as_rpc_errors():
            return self._worker.resume(index, state, force=force, reason=reason, actor="operator")

    def check_resume(self, index: int, state: str, force: bool = False) -> dict[str, Any]:
        """What a resume into `state` would do, without doing it: the refusal a resume would get, or the target,
        what it needs and (forced) what the task lacks, with the sentence a confirmation should show."""
        with _refusals_as_rpc_errors():
            check = self._worker.check_resume(index, state, force)
        return {
            "target": check.target,
            "needs": list(check.needs),
            "missing": list(check.missing),
            "warning": check.warning,
        }

    def info(self) -> dict[str, Any]:
        threads = self._worker.threads()
        by_state = Counter(info.thread_state.value for info in threads)
        return {
            "name": self._worker.name,
            "version": __version__,
            "pid": self._worker.pid,
            "threads": len(threads),
            "thread_states": {state.value: by_state[state.value] for state in ThreadState},
            "empty": sum(1 for info in threads if info.task_id is None),
            "errors": sum(1 for info in threads if info.last_error),
            "draining": self._worker.draining,
            "plans": sorted(self._worker.plans()),
            "plan_warnings": self._worker.plan_warnings(),
        }

    def history(self, index: int) -> dict[str, Any]:
        with _refusals_as_rpc_errors():
            info = self._worker.thread(index)
            entries = self._worker.history(index)
        return {
            "index": index,
            "task_id": info.task_id,
            "sector": info.sector,
            "plan": info.plan,
            "entries": [entry.to_json() for entry in entries],
        }

    def plans(self) -> dict[str, Any]:
        return {name: plan_json(plan) for name, plan in sorted(self._worker.plans().items())}

    def plan_of(self, index: int) -> dict[str, Any]:
        """The thread's plan and where its task is in it: what a diagram needs to highlight the thread."""
        with _refusals_as_rpc_errors():
            info = self._worker.thread(index)
            plan = self._worker.plan_of(index)
            transitions = [entry for entry in self._worker.history(index) if entry.event is not None]
        last = transitions[-1] if transitions else None
        return {
            "index": index,
            "task_id": info.task_id,
            "sector": info.sector,
            "state": info.state,
            "prev_state": last.from_state if last else None,
            "last_event": last.event if last else None,
            "plan": plan_json(plan),
        }

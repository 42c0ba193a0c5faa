"""The rules for getting a task moving again: where an operator may resume it, and how often a step is retried."""

from __future__ import annotations

from dataclasses import dataclass

from sealer_fsm.config import SealingConfig
from sealer_fsm.plans import Plan, StateSpec
from sealer_fsm.runtime._info import StateRefused
from sealer_fsm.store import TaskRecord


@dataclass(frozen=True)
class ResumeRequest:
    """An accepted resume, waiting for the thread's loop: the state to jump to (None: stay), who and why."""

    state: str | None
    actor: str
    reason: str | None


def resume_target(plan: Plan, task: TaskRecord, state: str, force: bool) -> str:
    """The state `state` names in the task's plan (the `Aborted` alias included); refuses (StateRefused, with the
    valid states) a state outside the plan, or one whose required task data is missing unless `force`."""
    target = plan.canonical_state(state)
    valid = plan.state_names()
    if target is None:
        raise StateRefused(f"state {state!r} is not in plan {plan.name!r}; valid states: {', '.join(valid)}", valid)
    missing = [key for key in plan.state(target).requires if key not in task.data]
    if missing and not force:
        raise StateRefused(
            f"state {target!r} needs task data the task does not have ({', '.join(missing)});"
            " resume with force to jump there anyway",
            valid,
        )
    return target


def retry_policy(spec: StateSpec, sealing: SealingConfig) -> tuple[int, float]:
    """(max retries, interval) for temporary failures in a state: the plan's override, else the thread's
    `[sealing]` values."""
    override = spec.retry
    max_retries = sealing.max_retries if override is None or override.max_retries is None else override.max_retries
    interval = sealing.recover_interval if override is None or override.interval is None else override.interval
    return max_retries, interval

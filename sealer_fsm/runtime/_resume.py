"""The rules for getting a task moving again: where an operator may resume it, and how often a step is retried.

A resume into another state is a jump outside the plan's transitions, so the runtime checks it against what the
plan says a task holds when it gets there the normal way:

- a state *needs* the task data every path from the plan's initial state into it guarantees: its own `requires`
  plus, at a join, what all the incoming paths have in common (a "must" data-flow over the plan's graph). A final
  state therefore needs everything the plan's path to it requires, so `Finished` cannot be reached without the
  proof. A jump to a state whose needs the task lacks is refused unless forced; a forced jump is told what is
  missing, and that the first step that needs a missing item aborts the task (`ctx.require`).
- a task that holds a sector cannot go back to a state a task reaches before it holds one (a state that does not
  need the sector): the allocation would run again and abandon the sector. `Abort` is the way to drop it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealer_fsm.config import SealingConfig
from sealer_fsm.plans import ABORT_STATE, Plan, StateSpec
from sealer_fsm.runtime._context import SECTOR_KEY
from sealer_fsm.runtime._info import StateRefused
from sealer_fsm.store import TaskRecord


@dataclass(frozen=True)
class ResumeCheck:
    """An accepted resume target: its canonical name, the task data it needs, and (for a forced jump) what the
    task lacks of it."""

    target: str
    needs: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        """What an operator confirming a forced jump must know; None when nothing is missing."""
        if not self.missing:
            return None
        return (
            f"state {self.target!r} needs {', '.join(self.needs)}; the task lacks {', '.join(self.missing)},"
            " and the first step that needs a missing item aborts the task (Abort)"
        )


@dataclass(frozen=True)
class ResumeRequest:
    """An accepted resume, waiting for the thread's loop: the state to jump to (None: stay), who, why, forced."""

    state: str | None
    actor: str
    reason: str | None
    force: bool = False


def state_needs(plan: Plan, state: str) -> tuple[str, ...]:
    """The task data every path from the plan's initial state into `state` guarantees (in `requires` order)."""
    return _needs_by_state(plan).get(state, ())


def _needs_by_state(plan: Plan) -> dict[str, tuple[str, ...]]:
    """The must-data-flow over the plan's declared transitions, to a fixed point.

    guaranteed(initial) = requires(initial); guaranteed(s) = requires(s) | the intersection of guaranteed(p)
    over its predecessors p.
    Unreachable states start (and stay) at their own `requires`; `Abort` needs nothing.
    """
    predecessors: dict[str, list[str]] = {name: [] for name in plan.states}
    for source, _, destination in plan.transitions():
        if destination in predecessors:
            predecessors[destination].append(source)
    everything = frozenset(key for spec in plan.states.values() for key in spec.requires)
    guaranteed = {name: everything for name in plan.states}
    guaranteed[plan.initial] = frozenset(plan.states[plan.initial].requires)
    changed = True
    while changed:
        changed = False
        for name, spec in plan.states.items():
            if name == plan.initial:
                continue
            incoming = [guaranteed[source] for source in predecessors[name]]
            common = frozenset.intersection(*incoming) if incoming else frozenset()
            value = frozenset(spec.requires) | common
            if value != guaranteed[name]:
                guaranteed[name], changed = value, True
    order = {key: index for index, key in enumerate(_requires_in_order(plan))}
    return {name: tuple(sorted(keys, key=order.__getitem__)) for name, keys in guaranteed.items()}


def _requires_in_order(plan: Plan) -> list[str]:
    """Every key any state requires, in the order the plan first mentions it."""
    keys: dict[str, None] = {}
    for spec in plan.states.values():
        keys.update(dict.fromkeys(spec.requires))
    return list(keys)


def check_resume(plan: Plan, task: TaskRecord, state: str, force: bool) -> ResumeCheck:
    """Where a resume into `state` takes the task; raises StateRefused (one sentence, with the valid states) for a
    state outside the plan, a state before the task's allocation, or (unless `force`) missing task data."""
    valid = plan.state_names()
    target = plan.canonical_state(state)
    if target is None:
        raise StateRefused(f"state {state!r} is not in plan {plan.name!r}; valid states: {', '.join(valid)}", valid)
    if target == ABORT_STATE:
        return ResumeCheck(target)
    if task.state == ABORT_STATE:
        raise StateRefused(
            "the task is in Abort and its files may already be removed; resume it without a state to retry the"
            " cleanup",
            valid,
        )
    needs = state_needs(plan, target)
    sector = task.data.get(SECTOR_KEY)
    if sector is not None and SECTOR_KEY not in needs:
        raise StateRefused(
            f"the task holds sector {sector} and {target!r} comes before its allocation, so the sector would be"
            f" abandoned; resume into Abort to drop it",
            valid,
        )
    missing = tuple(key for key in needs if key not in task.data)
    if missing and not force:
        raise StateRefused(
            f"state {target!r} needs task data the task does not have ({', '.join(missing)}); resume with force to"
            f" jump there anyway: it needs {', '.join(needs)}, and the first step that needs a missing item aborts"
            " the task (Abort)",
            valid,
        )
    return ResumeCheck(target, needs, missing)


def retry_policy(spec: StateSpec, sealing: SealingConfig) -> tuple[int, float]:
    """(max retries, interval) for temporary failures in a state: the plan's override, else the thread's
    `[sealing]` values."""
    override = spec.retry
    max_retries = sealing.max_retries if override is None or override.max_retries is None else override.max_retries
    interval = sealing.recover_interval if override is None or override.interval is None else override.interval
    return max_retries, interval

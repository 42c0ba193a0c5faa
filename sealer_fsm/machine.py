"""Plans become `transitions` machines: one machine per task, states and events straight from the plan.

The machine is the single authority on which event may move a task where. Persistence is part of applying an
event: `apply` resolves the transition, awaits the persistence callback (the store's durable commit, which runs
off the event loop), and only then moves the task, so a state change the store could not record never happens in
memory either, and an event the plan does not allow raises `EventNotAllowed` instead of moving the task.

(`transitions`' AsyncMachine was considered for this: it treats a cancelled callback as a refused transition and
returns False, while the commit it was waiting for may still land; memory and disk could then disagree.)
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from sealer_fsm.plans import ABORT_EVENT, ABORT_STATE, Plan

# transitions logs every trigger at INFO; one line per state change is the runtime's job, not the library's.
logging.getLogger("transitions").setLevel(logging.WARNING)


class EventNotAllowed(Exception):
    """A step returned an event its plan does not allow in the current state."""

    def __init__(self, plan: Plan, state: str, event: str) -> None:
        allowed = ", ".join(plan.states[state].on) if state in plan.states else "none"
        super().__init__(
            f"event {event!r} is not allowed in state {state!r} of plan {plan.name!r} (allowed: {allowed})"
        )
        self.state = state
        self.event = event


@dataclass(frozen=True)
class StateChange:
    """What the persistence callback is asked to record, atomically with the state."""

    source: str
    event: str
    destination: str
    payload: dict[str, Any]


PersistCallback = Callable[[StateChange], Awaitable[None]]


class _TaskModel:
    """The object `transitions` drives; it carries only the state so plan names cannot collide with ours."""

    state: str


class _PlanMachine:
    """One `transitions` machine per plan, shared by every task of that plan (each task is one of its models),
    and the (state, event) -> destination table read back from it."""

    def __init__(self, plan: Plan) -> None:
        transitions: list[dict[str, str | list[str]]] = [
            {"trigger": event, "source": source, "dest": destination}
            for source, event, destination in plan.transitions()
        ]
        # Abort is reachable from every state but itself, without being declared by the plan.
        transitions.append({"trigger": ABORT_EVENT, "source": list(plan.states), "dest": ABORT_STATE})
        self.machine = Machine(
            model=[], states=plan.state_names(), transitions=transitions, initial=plan.initial, auto_transitions=False
        )
        # Applying an event is then a lookup and a `set_state`, which is all `trigger` does for a machine without
        # callbacks, at a fraction of its cost.
        self.destinations = {
            (source, name): str(moves[0].dest)
            for name, event in self.machine.events.items()
            for source, moves in event.transitions.items()
            if moves
        }


# One shared machine per plan object in use, keyed by identity and dropped when the plan is.
_PLAN_MACHINES: dict[int, _PlanMachine] = {}


def _plan_machine(plan: Plan) -> _PlanMachine:
    shared = _PLAN_MACHINES.get(id(plan))
    if shared is None:
        shared = _PLAN_MACHINES[id(plan)] = _PlanMachine(plan)
        weakref.finalize(plan, _PLAN_MACHINES.pop, id(plan), None)
    return shared


class TaskMachine:
    def __init__(self, plan: Plan, state: str, persist: PersistCallback) -> None:
        if plan.canonical_state(state) != state:
            raise ValueError(f"state {state!r} is not a state of plan {plan.name!r}")
        self.plan = plan
        self._persist = persist
        self._model = _TaskModel()
        shared = _plan_machine(plan)
        self._machine = shared.machine
        self._destinations = shared.destinations
        self._machine.add_model(self._model, initial=state)

    def release(self) -> None:
        """Stop driving this task's model (its task closed, or its thread moved to another plan)."""
        self._machine.remove_model(self._model)

    @property
    def state(self) -> str:
        return self._model.state

    def allowed_events(self) -> list[str]:
        return self._machine.get_triggers(self.state)

    def destination(self, event: str) -> str:
        """Where `event` takes the task from its current state; EventNotAllowed when the plan does not allow it."""
        destination = self._destinations.get((self.state, event))
        if destination is None:
            raise EventNotAllowed(self.plan, self.state, event)
        return destination

    async def apply(self, event: str, payload: dict[str, Any] | None = None) -> str:
        """Fire `event`: the persistence callback records it, then the state moves. Returns the new state."""
        change = StateChange(self.state, event, self.destination(event), payload or {})
        await self._persist(change)
        self._machine.set_state(change.destination, model=self._model)
        return self.state

    def force(self, state: str) -> None:
        """Move to `state` outside the plan's transitions (operator resume); the caller records it."""
        self._machine.set_state(state, model=self._model)

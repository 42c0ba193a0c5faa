"""Plans become `transitions` machines: one machine per task, states and events straight from the plan.

The machine is the single authority on which event may move a task where. Persistence runs inside the
transition (the machine's `before_state_change` callback), so a state change the store could not record
never happens in memory either, and an event the plan does not allow raises `EventNotAllowed` instead of
moving the task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine, MachineError

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


PersistCallback = Callable[[StateChange], None]


class _TaskModel:
    """The object `transitions` drives; it carries only the state so plan names cannot collide with ours."""

    state: str


class TaskMachine:
    def __init__(self, plan: Plan, state: str, persist: PersistCallback) -> None:
        if plan.canonical_state(state) != state:
            raise ValueError(f"state {state!r} is not a state of plan {plan.name!r}")
        self.plan = plan
        self._persist = persist
        self._model = _TaskModel()
        transitions = [
            {"trigger": event, "source": source, "dest": destination}
            for source, event, destination in plan.transitions()
        ]
        # Abort is reachable from every state but itself, without being declared by the plan.
        transitions.append({"trigger": ABORT_EVENT, "source": list(plan.states), "dest": ABORT_STATE})
        self._machine = Machine(
            model=self._model,
            states=plan.state_names(),
            transitions=transitions,
            initial=state,
            auto_transitions=False,
            send_event=True,
            before_state_change=self._record,
        )

    @property
    def state(self) -> str:
        return self._model.state

    def allowed_events(self) -> list[str]:
        return self._machine.get_triggers(self.state)

    def apply(self, event: str, payload: dict[str, Any] | None = None) -> str:
        """Fire `event`; the persistence callback records it before the state moves. Returns the new state."""
        if event not in self.allowed_events():
            raise EventNotAllowed(self.plan, self.state, event)
        try:
            self._model.trigger(event, payload=payload or {})
        except MachineError as error:  # defensive: allowed_events and the machine disagree
            raise EventNotAllowed(self.plan, self.state, event) from error
        return self.state

    def force(self, state: str) -> None:
        """Move to `state` outside the plan's transitions (operator resume); the caller records it."""
        self._machine.set_state(state, model=self._model)

    def _record(self, event_data: EventData) -> None:
        self._persist(
            StateChange(
                source=event_data.transition.source,
                event=event_data.event.name,
                destination=event_data.transition.dest,
                payload=event_data.kwargs.get("payload", {}),
            )
        )

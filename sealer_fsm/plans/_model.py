"""The validated, immutable form of a plan: what the loader produces and everything above it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABORT_STATE = "Abort"
# The reference worker spells the abort state "Aborted"; users may type either.
STATE_ALIASES = {"Aborted": ABORT_STATE}
ABORT_EVENT = "Abort"
# The event the runtime records when an operator resumes a task into another state (outside the plan's events).
SET_STATE_EVENT = "SetState"
# Events the runtime itself records in task history; a plan cannot declare them.
RESERVED_EVENTS = frozenset({ABORT_EVENT, SET_STATE_EVENT})
ABORT_DOC = "the sector did not complete normally; its files are cleaned and the thread takes the next task"


@dataclass(frozen=True)
class RetryPolicy:
    """Per-state override of the worker's `max_retries` / `recover_interval`; None keeps the worker's value."""

    max_retries: int | None = None
    interval: float | None = None


@dataclass(frozen=True)
class StateSpec:
    name: str
    doc: str = ""
    stage: str = "-"
    step: str | None = None
    final: bool = False
    on: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    requires: tuple[str, ...] = ()
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "doc": self.doc,
            "stage": self.stage,
            "step": self.step,
            "final": self.final,
            "on": dict(self.on),
        }


@dataclass(frozen=True)
class Plan:
    """A plan: its states in file order, plus the implicit `Abort` state every plan has."""

    name: str
    initial: str
    states: dict[str, StateSpec]
    on_abort: str | None = None
    source: Path | None = None

    @property
    def abort_state(self) -> StateSpec:
        return StateSpec(name=ABORT_STATE, doc=ABORT_DOC, stage="-", step=self.on_abort, final=True)

    def state(self, name: str) -> StateSpec:
        """The spec of a declared state or of `Abort`; KeyError for anything else."""
        if name == ABORT_STATE:
            return self.abort_state
        return self.states[name]

    def state_names(self) -> list[str]:
        """Every state a task of this plan can be in, `Abort` last."""
        return [*self.states, ABORT_STATE]

    def canonical_state(self, typed: str) -> str | None:
        """The state a user means by `typed` (accepting the `Aborted` alias), or None when the plan has none."""
        name = STATE_ALIASES.get(typed, typed)
        return name if name == ABORT_STATE or name in self.states else None

    def target(self, state: str, event: str) -> str | None:
        """Where `event` leads from `state`, or None when the plan does not allow it there."""
        if event == ABORT_EVENT and state != ABORT_STATE:
            return ABORT_STATE
        spec = self.states.get(state)
        return None if spec is None else spec.on.get(event)

    def is_final(self, state: str) -> bool:
        return state == ABORT_STATE or self.states[state].final

    def transitions(self) -> list[tuple[str, str, str]]:
        """(source, event, destination) for every declared transition, in file order."""
        return [(spec.name, event, target) for spec in self.states.values() for event, target in spec.on.items()]

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.name,
            "initial": self.initial,
            "states": [spec.to_json() for spec in self.states.values()] + [self.abort_state.to_json()],
        }

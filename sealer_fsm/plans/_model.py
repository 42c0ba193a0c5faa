"""The validated, immutable form of a plan: what the loader produces and everything above it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
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

    def to_document(self) -> dict[str, Any]:
        """As a plan file writes it; the interval in seconds (`1.5s`), which the loader reads back exactly."""
        document: dict[str, Any] = {}
        if self.max_retries is not None:
            document["max"] = self.max_retries
        if self.interval is not None:
            document["interval"] = f"{format(Decimal(repr(self.interval)), 'f')}s"
        return document


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
    line: int = field(default=0, compare=False)  # where it was declared: for faults, not part of the plan

    def to_document(self) -> dict[str, Any]:
        """The state as a plan file writes it (see `Plan.to_document`)."""
        document: dict[str, Any] = {}
        if self.doc:
            document["doc"] = self.doc
        if self.stage != "-":
            document["stage"] = self.stage
        if self.step is not None:
            document["step"] = self.step
        if self.requires:
            document["requires"] = list(self.requires)
        if self.retry is not None:
            document["retry"] = self.retry.to_document()
        if self.final:
            document["final"] = True
        else:
            document["on"] = dict(self.on)
        return document

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
    source: Path | None = field(default=None, compare=False)  # where it was read from, not part of the plan
    doc: str = ""

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

    def to_document(self) -> dict[str, Any]:
        """The plan as a plan file holds it: `yaml.safe_dump(plan.to_document(), sort_keys=False)` loads back
        into an equal plan (`plan show --yaml`). Keys keep the file's order; defaults are left out."""
        document: dict[str, Any] = {"plan": self.name}
        if self.doc:
            document["doc"] = self.doc
        document["initial"] = self.initial
        if self.on_abort:
            document["on_abort"] = self.on_abort
        document["states"] = {name: spec.to_document() for name, spec in self.states.items()}
        return document

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.name,
            "initial": self.initial,
            "states": [spec.to_json() for spec in self.states.values()] + [self.abort_state.to_json()],
        }

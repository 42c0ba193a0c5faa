"""Failure levels, as in the reference worker: what a step raises decides what the thread does next.

- temporary: retried after the recover interval, up to the retry limit, then treated as permanent;
- permanent: the thread pauses and keeps the error for the operator;
- critical: the worker itself is inconsistent (an event the plan does not allow, a store fault): pause;
- abort: the task cannot succeed; it is reported, its files are cleaned, and the thread moves on.
"""

from __future__ import annotations

import enum


class Level(enum.Enum):
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    CRITICAL = "critical"
    ABORT = "abort"


class StepFailure(Exception):
    """Raised by a step; `str()` is the reference's "level: message" form shown to operators."""

    level: Level = Level.PERMANENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.level.value}: {self.message}"


class Temporary(StepFailure):
    level = Level.TEMPORARY


class Permanent(StepFailure):
    level = Level.PERMANENT


class Critical(StepFailure):
    level = Level.CRITICAL


class AbortTask(StepFailure):
    level = Level.ABORT


class Interrupted(Exception):
    """Raised at a checkpoint when the thread must stop its step: a pause was asked for, or the worker drains."""

"""Asking the worker, before any confirmation, whether it would accept a resume of each chosen thread.

The picker calls this when the operator chooses a state, so a refusal (missing task data, a state before the
sector's allocation) shows in the picker itself; what the worker answers for an accepted forced jump (the data it
needs and what the task lacks) is what the confirmation then says. Nothing is recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sealer_fsm.tui._controller import Controller, ControllerError, ResumeTarget, ThreadRow


@dataclass(frozen=True)
class ResumeValidation:
    """The worker's answer for every chosen thread: a refusal sentence per refusing thread (none: all accept),
    the accepted targets by thread index, and whether ticking force would lift every refusal."""

    refusals: tuple[str, ...] = ()
    targets: dict[int, ResumeTarget] = field(default_factory=dict)
    force_would_help: bool = False

    @property
    def accepted(self) -> bool:
        return not self.refusals


async def _check_all(
    controller: Controller, rows: list[ThreadRow], state: str, force: bool
) -> tuple[list[str], dict[int, ResumeTarget]]:
    refusals, targets = [], {}
    for row in rows:
        try:
            targets[row.index] = await controller.check_resume(row.index, state, force)
        except ControllerError as error:
            refusals.append(error.message if len(rows) == 1 else f"thread {row.index}: {error.message}")
    return refusals, targets


async def validate_resume(controller: Controller, rows: list[ThreadRow], state: str, force: bool) -> ResumeValidation:
    """What the worker would do with a resume of `rows` into `state`; when it refuses an unforced jump, whether a
    forced one would be accepted for every thread (the picker then says to tick force)."""
    refusals, targets = await _check_all(controller, rows, state, force)
    if not refusals:
        return ResumeValidation(targets=targets)
    force_would_help = False
    if not force:
        forced_refusals, _ = await _check_all(controller, rows, state, True)
        force_would_help = not forced_refusals
    return ResumeValidation(tuple(refusals), targets, force_would_help)

"""Plan files: where a plan is read from, and the one way to load one (`load_plan`), which raises PlanError and
nothing else, so a worker that meets a broken edit can always keep its last valid plan."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sealer_fsm.plans._loader import PlanError, PlanFault, check_plan_text
from sealer_fsm.plans._model import Plan
from sealer_fsm.registry import StepRegistry

# A plan is a few kilobytes; a file a thousand times that is a mistake (a sealed file, a log), not an edit.
MAX_PLAN_BYTES = 1 << 20


def missing_file_fault(path: Path) -> PlanFault | None:
    """Why `path` is not a plan file at all (a directory, nothing there), naming it absolute; None if it is a file."""
    shown = os.path.abspath(path)
    try:
        if path.is_dir():
            return PlanFault(shown, 0, "is a directory, not a plan file")
        if not path.is_file():
            return PlanFault(shown, 0, "plan file not found")
    except OSError as error:  # a name the file system refuses to look up, e.g. too long
        return PlanFault(shown, 0, f"cannot be looked up: {error.strerror or error}")
    return None


def read_plan_text(path: Path) -> str:
    """The text of a plan file; PlanError (one fault naming the absolute path) when it is not a readable one."""
    shown = os.path.abspath(path)
    fault = missing_file_fault(path)
    if fault is not None:
        raise PlanError([fault])
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PLAN_BYTES + 1)
    except OSError as error:
        raise PlanError([PlanFault(shown, 0, f"cannot read plan file: {error.strerror or error}")]) from None
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError([PlanFault(shown, 0, f"larger than {MAX_PLAN_BYTES >> 20} MiB: not a plan file")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError([PlanFault(shown, 0, "plan file is not UTF-8 text")]) from None


def load_plan(path: str | Path, registry: StepRegistry | None) -> Plan:
    """Load and validate one plan file; raises PlanError listing every fault, and nothing else.

    With `registry=None` step names are not resolved (used where only the flow matters, e.g. drawing).
    """
    path = Path(path)
    plan, faults = check_plan_text(read_plan_text(path), str(path), registry)
    if plan is None:
        raise PlanError(faults)
    return dataclasses.replace(plan, source=path)

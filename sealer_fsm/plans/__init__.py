"""Plans: the YAML files that declare a task's states, the step each state runs, and the events between them.

Public surface: the `Plan` model, `load_plan` / `check_plan_text` with their `PlanFault`/`PlanError`, and
`resolve_plan_path`, which turns a plan name ("sealer") or a path into a file.
"""

from __future__ import annotations

from pathlib import Path

from sealer_fsm.plans._files import load_plan, missing_file_fault
from sealer_fsm.plans._loader import RESERVED_STATES, PlanError, PlanFault, check_plan_text
from sealer_fsm.plans._model import (
    ABORT_EVENT,
    ABORT_STATE,
    RESERVED_EVENTS,
    SET_STATE_EVENT,
    STATE_ALIASES,
    Plan,
    RetryPolicy,
    StateSpec,
)
from sealer_fsm.units import shown

# The plans this project ships: plans/ at the top of the repository, linked into the package as `shipped` (and
# copied there in a built wheel), so that a source tree and an installed package both find them.
SHIPPED_PLANS_DIR = (Path(__file__).parent / "shipped").resolve()


def shipped_plan_names() -> list[str]:
    return sorted(path.stem for path in SHIPPED_PLANS_DIR.glob("*.yaml"))


def resolve_plan_path(name_or_path: str, base_dir: Path | None = None) -> Path:
    """The file behind a plan name ("sealer" → the shipped plans/sealer.yaml) or a path (relative to base_dir,
    which a machine file sets to its own folder; else to the current directory).

    Raises PlanError with one fault naming what was asked for and what exists; a path that is not a plan file
    is named absolute, so the operator sees exactly where it was looked for.
    """
    looks_like_path = name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path
    if looks_like_path:
        path = Path(name_or_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        fault = missing_file_fault(path)
        if fault is not None:
            raise PlanError([fault])
        return path
    path = SHIPPED_PLANS_DIR / f"{name_or_path}.yaml"
    try:
        found = path.is_file()
    except OSError as error:  # a name the file system refuses to look up, e.g. too long
        raise PlanError([PlanFault(shown(name_or_path), 0, error.strerror or str(error))]) from error
    if not found:
        known = ", ".join(shipped_plan_names())
        raise PlanError([PlanFault(name_or_path, 0, f"unknown plan {name_or_path!r} (shipped plans: {known})")])
    return path


__all__ = [
    "ABORT_EVENT",
    "ABORT_STATE",
    "RESERVED_EVENTS",
    "RESERVED_STATES",
    "SET_STATE_EVENT",
    "SHIPPED_PLANS_DIR",
    "STATE_ALIASES",
    "Plan",
    "PlanError",
    "PlanFault",
    "RetryPolicy",
    "StateSpec",
    "check_plan_text",
    "load_plan",
    "resolve_plan_path",
    "shipped_plan_names",
]

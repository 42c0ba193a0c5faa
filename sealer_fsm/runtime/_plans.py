"""Plan versions: the plan files as they are now, and the exact version each task started with.

A plan file is re-read when it changes; a broken edit keeps the last good version in use. Every version a task
starts with is identified by the SHA-256 of its text, and the text is kept in the store with the task, so an
open task goes on following the version it started with after the file changed, even across a restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.plans import Plan, PlanError, PlanFault, check_plan_text
from sealer_fsm.registry import StepRegistry

log = logging.getLogger("sealer_fsm.runtime")


@dataclass(frozen=True)
class PlanVersion:
    plan: Plan
    text: str
    digest: str  # SHA-256 of `text`, hex: what a task stores to name its version

    @property
    def short(self) -> str:
        return self.digest[:12]


def plan_version(text: str, path: Path, registry: StepRegistry | None, shown: str | None = None) -> PlanVersion:
    """The plan in `text` (read from `path`); PlanError listing every fault, as `load_plan` would."""
    plan, faults = check_plan_text(text, shown or str(path), registry)
    if plan is None:
        raise PlanError(faults)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return PlanVersion(dataclasses.replace(plan, source=path), text, digest)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise PlanError([PlanFault(str(path), 0, f"cannot read plan file: {error.strerror or error}")]) from error
    except UnicodeDecodeError as error:
        raise PlanError([PlanFault(str(path), 0, "plan file is not UTF-8 text")]) from error


class PlanFiles:
    """Plans by file, reloaded when the file changes, and old versions by digest."""

    def __init__(self, registry: StepRegistry) -> None:
        self._registry = registry
        self._files: dict[Path, tuple[tuple[int, int], PlanVersion]] = {}
        self._versions: dict[str, PlanVersion] = {}
        self.warnings: dict[Path, str] = {}

    def current(self, path: Path) -> PlanVersion:
        """The file's plan as it is now; after a broken edit, the last good version (PlanError if none)."""
        try:
            status = path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
        except OSError:
            stamp = (-1, -1)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            version = plan_version(_read(path), path, self._registry)
        except PlanError as error:
            if cached is None:
                raise
            if self.warnings.get(path) != str(error):
                log.error("plan %s changed but is invalid; keeping the previous version:\n%s", path, error)
            self.warnings[path] = str(error)
            return cached[1]
        self.warnings.pop(path, None)
        if cached is not None and cached[1].digest != version.digest:
            log.warning(
                "plan %s changed (version %s, was %s): new tasks follow it; open tasks keep the version they started"
                " with",
                path,
                version.short,
                cached[1].short,
            )
        self._files[path] = (stamp, version)
        self._versions[version.digest] = version
        return version

    def version(self, digest: str, text: str, path: Path) -> PlanVersion:
        """An earlier version of the plan at `path`, from its stored text (PlanError if it no longer loads)."""
        known = self._versions.get(digest)
        if known is None:
            known = plan_version(text, path, self._registry, shown=f"{path} (version {digest[:12]})")
            self._versions[digest] = known
        return known

"""The `[processors]` section: per-stage limits, staggered starts, named locks and external processors.

The keys, meanings and defaults are the reference worker's (damocles-worker `processor/external/config.rs`,
`docs/en/03`): `[processors.limitation.concurrent]` (legacy spelling `[processors.limit]`, overridden by the
new one), `[processors.limitation.staggered]`, `[processors.ext_locks]` and one `[[processors.<stage>]]` entry per
child process of a stage. Everything is checked here, once; a fault is one line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealer_fsm.config._schema import ConfigError, Duration, read_section
from sealer_fsm.units import format_duration, parse_duration

# The stages a step can run through the processors layer, in the order a sector meets them.
STAGES = ("add_pieces", "tree_d", "pc1", "pc2", "c1", "c2", "snap_encode", "snap_prove", "transfer", "unseal")
# Stages the reference knows that this worker has no plan for (PoSt runs on the manager's side here).
_REFERENCE_ONLY = ("synth_proof", "window_post", "winning_post", "sealing_daemons")
# The stages whose steps run through processors today; a limit or an entry for another stage would do nothing,
# so it is refused rather than ignored.
ROUTED_STAGES = ("pc1", "pc2", "c1", "c2", "snap_encode", "transfer", "unseal")
# The reference ignores (with a warning) a staggered interval below one second; we refuse it instead.
MIN_STAGGERED = 1.0


@dataclass(frozen=True)
class CgroupConfig:
    """`cgroup.*` of an external processor: the child pins itself to `cpuset` (a cpuset cgroup where the host
    lets it create one, and always its CPU affinity)."""

    group_name: str = "vc-worker"
    cpuset: str | None = None


@dataclass(frozen=True)
class _ExternalEntry:
    """One `[[processors.<stage>]]` table as written (cgroup is checked apart for clearer messages)."""

    bin: str | None = None
    args: list[str] | None = None
    stable_wait: Duration = 5.0
    cgroup: dict[str, Any] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)
    numa_preferred: int | None = None
    concurrent: int | None = None
    locks: list[str] = field(default_factory=list)
    auto_restart: bool = True
    inherit_envs: bool = True


@dataclass(frozen=True)
class ExternalProcessor:
    """One child process of a stage, with the reference's defaults."""

    stage: str
    index: int  # position among the stage's entries; names the child in messages and in its cgroup
    bin: str | None = None  # None: this worker's own `sealer-fsm processor <stage>`
    args: tuple[str, ...] | None = None  # None: `processor <stage>` (after the default bin)
    stable_wait: float = 5.0  # how long the handshake may take
    cgroup: CgroupConfig = field(default_factory=CgroupConfig)
    cpus: tuple[int, ...] | None = None  # `cgroup.cpuset` parsed
    envs: tuple[tuple[str, str], ...] = ()
    numa_preferred: int | None = None
    concurrent: int | None = None  # in-flight requests this child takes; None: unlimited
    locks: tuple[str, ...] = ()
    auto_restart: bool = True
    inherit_envs: bool = True

    @property
    def label(self) -> str:
        """How messages name this child: `processor pc1 #0 (/usr/bin/prover)`."""
        return f"processor {self.stage} #{self.index} ({self.bin or 'sealer-fsm processor ' + self.stage})"


@dataclass(frozen=True)
class ProcessorsConfig:
    concurrent: dict[str, int] = field(default_factory=dict)  # stage → at most this many at once
    staggered: dict[str, float] = field(default_factory=dict)  # stage → seconds between starts
    ext_locks: dict[str, int] = field(default_factory=dict)  # lock name → holders at once
    external: dict[str, tuple[ExternalProcessor, ...]] = field(default_factory=dict)  # stage → its children


def read_processors(raw: Any, home: Path) -> ProcessorsConfig:
    """Build the `[processors]` section from its TOML table; a relative `bin` with a slash is under `home`."""
    if not isinstance(raw, dict):
        raise ConfigError("[processors] must be a table")
    for key in raw:
        if key in ("limitation", "limit", "ext_locks") or key in STAGES:
            continue
        if key == "static_tree_d":
            raise ConfigError("[processors] static_tree_d: not supported (this worker keeps no tree_d file to reuse)")
        if key in _REFERENCE_ONLY:
            raise ConfigError(f"[processors] {key}: not a stage of this worker (stages: {', '.join(STAGES)})")
        raise ConfigError(
            f"[processors]: unknown key {key!r} (allowed: limitation, limit, ext_locks, {', '.join(STAGES)})"
        )
    limitation = _table(raw.get("limitation", {}), "[processors.limitation]")
    for key in limitation:
        if key not in ("concurrent", "staggered"):
            raise ConfigError(f"[processors.limitation]: unknown key {key!r} (allowed: concurrent, staggered)")
    concurrent = {
        **_counts(raw.get("limit", {}), "[processors.limit]", stages=True),
        **_counts(limitation.get("concurrent", {}), "[processors.limitation.concurrent]", stages=True),
    }
    ext_locks = _counts(raw.get("ext_locks", {}), "[processors.ext_locks]", stages=False)
    external = {
        stage: tuple(_external(stage, index, entry, ext_locks, home) for index, entry in enumerate(entries))
        for stage, entries in ((stage, _entries(raw[stage], stage)) for stage in STAGES if stage in raw)
        if entries
    }
    return ProcessorsConfig(
        concurrent=concurrent,
        staggered=_intervals(limitation.get("staggered", {})),
        ext_locks=ext_locks,
        external=external,
    )


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    return value


def _check_stage(where: str, stage: str) -> None:
    if stage not in STAGES:
        raise ConfigError(f"{where}: unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    if stage not in ROUTED_STAGES:
        raise ConfigError(
            f"{where}: the {stage} step does not run through processors yet (stages that do: "
            f"{', '.join(ROUTED_STAGES)})"
        )


def _counts(value: Any, where: str, stages: bool) -> dict[str, int]:
    """A table of positive whole numbers, by stage (`stages`) or by any name."""
    counts = {}
    for name, count in _table(value, where).items():
        if stages:
            _check_stage(f"{where} {name}", name)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"{where} {name}: expected a whole number of at least 1, got {count!r}")
        counts[name] = count
    return counts


def _intervals(value: Any) -> dict[str, float]:
    where = "[processors.limitation.staggered]"
    intervals = {}
    for stage, text in _table(value, where).items():
        _check_stage(f"{where} {stage}", stage)
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            raise ConfigError(f"{where} {stage}: {error}") from error
        if seconds < MIN_STAGGERED:
            raise ConfigError(
                f"{where} {stage}: must be at least {format_duration(MIN_STAGGERED)} as in the reference, got {text!r}"
            )
        intervals[stage] = seconds
    return intervals


def _entries(value: Any, stage: str) -> list[Any]:
    _check_stage(f"[[processors.{stage}]]", stage)
    if not isinstance(value, list):
        raise ConfigError(f"[processors] {stage}: expected [[processors.{stage}]] entries, got {value!r}")
    return value


def _external(stage: str, index: int, raw: Any, ext_locks: dict[str, int], home: Path) -> ExternalProcessor:
    where = f"[[processors.{stage}]] #{index}"
    entry = read_section(_ExternalEntry, raw, where)
    cgroup = read_section(CgroupConfig, entry.cgroup, f"{where} cgroup")
    if entry.bin is not None and not entry.bin.strip():
        raise ConfigError(f"{where} bin: must not be empty")
    if entry.stable_wait <= 0:
        raise ConfigError(f"{where} stable_wait: must be longer than 0s")
    if entry.concurrent is not None and entry.concurrent < 1:
        raise ConfigError(f"{where} concurrent: must be at least 1, got {entry.concurrent}")
    for lock in entry.locks:
        if lock not in ext_locks:
            declared = ", ".join(sorted(ext_locks)) or "none"
            raise ConfigError(f"{where} locks: unknown lock {lock!r} (declared in [processors.ext_locks]: {declared})")
    if len(set(entry.locks)) != len(entry.locks):
        raise ConfigError(f"{where} locks: a lock is named twice in {entry.locks!r}")
    cpus = None
    if cgroup.cpuset is not None:
        try:
            cpus = parse_cpuset(cgroup.cpuset)
        except ValueError as error:
            raise ConfigError(f"{where} cgroup.cpuset: {error}") from error
    if not cgroup.group_name.strip() or ".." in Path(cgroup.group_name).parts:
        raise ConfigError(f"{where} cgroup.group_name: expected a path like 'vc-worker', got {cgroup.group_name!r}")
    return ExternalProcessor(
        stage=stage,
        index=index,
        bin=None if entry.bin is None else _resolve_bin(entry.bin, home),
        args=None if entry.args is None else tuple(entry.args),
        stable_wait=entry.stable_wait,
        cgroup=cgroup,
        cpus=cpus,
        envs=tuple(entry.envs.items()),
        numa_preferred=entry.numa_preferred,
        concurrent=entry.concurrent,
        locks=tuple(entry.locks),
        auto_restart=entry.auto_restart,
        inherit_envs=entry.inherit_envs,
    )


def _resolve_bin(text: str, home: Path) -> str:
    """A bare name is looked up on PATH when the child starts; a relative path is relative to the home."""
    if "/" not in text:
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else home / path)


MAX_CPU = 1 << 16  # beyond any CPU number Linux gives


def parse_cpuset(text: str) -> tuple[int, ...]:
    """The CPUs of a cpuset list ("0-3,8,10-11", the kernel's cpuset.cpus syntax), sorted; ValueError naming
    the part at fault."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first = int(low, 10)
            last = int(high, 10) if dash else first
        except ValueError:
            raise ValueError(f"expected CPU numbers and ranges like '0-3,8', got {part!r} in {text!r}") from None
        if first < 0 or last < first or last >= MAX_CPU:
            raise ValueError(f"bad CPU range {part!r} in {text!r}")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))

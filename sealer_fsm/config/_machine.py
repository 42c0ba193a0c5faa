"""The machine file: one TOML file per sealing host, with the reference worker's sections and defaults.

Sections: `[worker]`, `[sealing]` (defaults for every thread), `[[sealing_thread]]` (one per thread, with its
own `sealing` overrides), `[[attached]]` (persist stores), `[sector_manager]`, `[metrics]` and `[proofs]`.
Every relative path in the file is relative to the worker's home directory.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealer_fsm.config._schema import TOP_LEVEL, ConfigError, Duration, Rate, Size, read_section
from sealer_fsm.plans import PlanError, resolve_plan_path

MAX_PROOF_THREADS = 256  # what one call into the proofs C code accepts


@dataclass(frozen=True)
class RpcServerConfig:
    host: str = "127.0.0.1"
    port: int = 17890
    # Required when `host` is not a loopback address; SEALER_FSM_TOKEN overrides it.
    token: str | None = None
    # PEM certificate and key: the server then speaks HTTPS only (both or neither).
    tls_cert: str | None = None
    tls_key: str | None = None
    # Open connections beyond this are answered 503 and closed (never more than a quarter of the fd limit).
    max_connections: int = 128


@dataclass(frozen=True)
class WorkerSection:
    name: str | None = None
    rpc_server: RpcServerConfig = field(default_factory=RpcServerConfig)
    # How long SIGTERM waits for running steps to reach a checkpoint before cancelling them.
    drain_timeout: Duration = 30.0


@dataclass(frozen=True)
class SealingConfig:
    """The reference's `[sealing]` keys and defaults; merged per thread with its `sealing` overrides."""

    allowed_miners: list[int] | None = None
    allowed_sizes: list[str] | None = None
    enable_deals: bool = False
    disable_cc: bool = False
    max_deals: int | None = None
    min_deal_space: Size | None = None
    max_retries: int = 5
    seal_interval: Duration = 30.0
    recover_interval: Duration = 60.0
    rpc_polling_interval: Duration = 180.0
    ignore_proof_check: bool = False
    request_task_max_retries: int = 3
    verify_after_pc2: bool = False


@dataclass(frozen=True)
class _ThreadSection:
    location: str
    plan: str = "sealer"
    sealing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadConfig:
    index: int
    location: Path
    plan: str
    plan_path: Path
    sealing: SealingConfig


@dataclass(frozen=True)
class AttachedStore:
    location: str
    name: str | None = None
    readonly: bool = False


@dataclass(frozen=True)
class DevnetConfig:
    """The embedded devnet sector manager: a simulated chain with failure injection."""

    miner: int = 1000
    sector_size: Size = 2048
    block_time: Duration = 0.05
    precommit_epochs: int = 2
    seed_epochs: int = 3
    proof_epochs: int = 2
    ticket_expiry_epochs: int = 1000
    seed: int = 1
    precommit_fail_rate: Rate = 0.0
    proof_fail_rate: Rate = 0.0
    files_missed_rate: Rate = 0.0
    rpc_error_rate: Rate = 0.0
    abort_rate: Rate = 0.0


@dataclass(frozen=True)
class SectorManagerConfig:
    kind: str = "devnet"
    devnet: DevnetConfig = field(default_factory=DevnetConfig)


@dataclass(frozen=True)
class MetricsConfig:
    enable: bool = True


@dataclass(frozen=True)
class ProofsConfig:
    """How the proving computations run on this host."""

    # Threads the multi-threaded C work of the whole worker may run at once (every sealing thread shares
    # them); unset: every core this process may use.
    threads: int | None = None


@dataclass(frozen=True)
class _MachineFile:
    worker: WorkerSection = field(default_factory=WorkerSection)
    sealing: dict[str, Any] = field(default_factory=dict)
    sealing_thread: list[dict[str, Any]] = field(default_factory=list)
    attached: list[AttachedStore] = field(default_factory=list)
    sector_manager: SectorManagerConfig = field(default_factory=SectorManagerConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    proofs: ProofsConfig = field(default_factory=ProofsConfig)


@dataclass(frozen=True)
class MachineConfig:
    path: Path
    name: str
    home: Path
    worker: WorkerSection
    sealing: SealingConfig
    threads: list[ThreadConfig]
    attached: list[AttachedStore]
    sector_manager: SectorManagerConfig
    metrics: MetricsConfig
    proofs: ProofsConfig

    def resolve(self, relative: str | Path) -> Path:
        """A path from the machine file, relative to the worker's home."""
        path = Path(relative)
        return path if path.is_absolute() else self.home / path


def default_home(name: str) -> Path:
    return Path("var") / name


def load_machine_file(path: str | Path, home: str | Path | None = None) -> MachineConfig:
    """Read and validate a machine file; raises ConfigError as one line starting with the file's path."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read machine file: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: TOML syntax error: {error}") from error
    try:
        return _build(path, raw, home)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def _build(path: Path, raw: dict[str, Any], home: str | Path | None) -> MachineConfig:
    machine = read_section(_MachineFile, raw, TOP_LEVEL)
    sealing_raw = machine.sealing
    global_sealing = read_section(SealingConfig, sealing_raw, "[sealing]")
    name = machine.worker.name or path.stem
    home_path = Path(home) if home is not None else default_home(name)
    if not machine.sealing_thread:
        raise ConfigError("no [[sealing_thread]] defined: a worker needs at least one thread")
    threads = []
    seen_locations: dict[Path, int] = {}
    for index, thread_raw in enumerate(machine.sealing_thread):
        where = f"[[sealing_thread]] #{index}"
        section = read_section(_ThreadSection, thread_raw, where)
        sealing = read_section(SealingConfig, {**sealing_raw, **section.sealing}, f"{where} sealing")
        location = Path(section.location)
        location = location if location.is_absolute() else home_path / location
        if location in seen_locations:
            owner = seen_locations[location]
            raise ConfigError(f"{where} location: {section.location!r} is already used by thread #{owner}")
        seen_locations[location] = index
        try:
            plan_path = resolve_plan_path(section.plan, base_dir=home_path)
        except PlanError as error:
            raise ConfigError(f"{where} plan: {error.faults[0].message} ({section.plan!r})") from error
        threads.append(ThreadConfig(index, location, section.plan, plan_path, sealing))
    _check_attached(machine.attached)
    _check_manager(machine.sector_manager)
    _check_proofs(machine.proofs)
    _check_listener("[worker.rpc_server]", machine.worker.rpc_server.tls_cert, machine.worker.rpc_server.tls_key)
    if machine.worker.rpc_server.max_connections < 1:
        raise ConfigError("[worker.rpc_server] max_connections: must be at least 1")
    return MachineConfig(
        path=path,
        name=name,
        home=home_path,
        worker=machine.worker,
        sealing=global_sealing,
        threads=threads,
        attached=machine.attached,
        sector_manager=machine.sector_manager,
        metrics=machine.metrics,
        proofs=machine.proofs,
    )


def _check_attached(attached: list[AttachedStore]) -> None:
    names: set[str] = set()
    for index, store in enumerate(attached):
        name = store.name or store.location
        if name in names:
            raise ConfigError(f"[[attached]] #{index} name: duplicate store name {name!r}")
        names.add(name)


def _check_manager(manager: SectorManagerConfig) -> None:
    if manager.kind != "devnet":
        raise ConfigError(f"[sector_manager] kind: unknown kind {manager.kind!r} (available: devnet)")
    size = manager.devnet.sector_size
    if size < 256 or size & (size - 1):
        raise ConfigError(
            f"[sector_manager.devnet] sector_size: must be a power of two of at least 256 bytes, got {size}"
        )


def _check_listener(where: str, tls_cert: str | None, tls_key: str | None) -> None:
    if (tls_cert is None) != (tls_key is None):
        given, missing = ("tls_cert", "tls_key") if tls_key is None else ("tls_key", "tls_cert")
        raise ConfigError(f"{where} {missing}: {given} is set, so {missing} is needed too (or neither, for plain HTTP)")


def _check_proofs(proofs: ProofsConfig) -> None:
    if proofs.threads is not None and not 1 <= proofs.threads <= MAX_PROOF_THREADS:
        raise ConfigError(f"[proofs] threads: must be from 1 to {MAX_PROOF_THREADS}, got {proofs.threads}")

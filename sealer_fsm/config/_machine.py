"""The machine file: one TOML file per sealing host, with the reference worker's sections and defaults.

Sections: `[worker]`, `[sealing]` (defaults for every thread), `[[sealing_thread]]` (one per thread, with its
own `sealing` overrides), `[[attached]]` (persist stores), `[sector_manager]`, `[metrics]`, `[proofs]` and
`[processors]` (stage limits and external processors, read by `_processors.py`).
Every relative path in the file is relative to the worker's home directory.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sealer_fsm.config._cluster import (
    ConnectionCap,
    DevnetServerConfig,
    RpcClientConfig,
    check_devnet_server,
    check_rpc_client,
    check_tls_pair,
)
from sealer_fsm.config._processors import ProcessorsConfig, read_processors
from sealer_fsm.config._reference import reference_keys, set_aside_reference_keys
from sealer_fsm.config._schema import (
    TOP_LEVEL,
    ConfigError,
    Duration,
    PlainName,
    Port,
    PositiveDuration,
    Rate,
    SectorSize,
    SectorSizeText,
    Size,
    read_section,
)
from sealer_fsm.plans import PlanError, resolve_plan_path
from sealer_fsm.proofs import seal_proof
from sealer_fsm.units import format_size, shown

MAX_PROOF_THREADS = 256  # what one call into the proofs C code accepts


@dataclass(frozen=True)
class RpcServerConfig:
    host: str = "127.0.0.1"
    port: Port = 17890
    # Required when `host` is not a loopback address; SEALER_FSM_TOKEN overrides it.
    token: str | None = None
    # PEM certificate and key: the server then speaks HTTPS only (both or neither).
    tls_cert: str | None = None
    tls_key: str | None = None
    # Open connections beyond this are answered 503 and closed (never more than a quarter of the fd limit).
    max_connections: ConnectionCap = 128


@dataclass(frozen=True)
class WorkerSection:
    REFERENCE_KEYS: ClassVar[tuple[str, ...]] = reference_keys("worker")

    # Names the worker to operators and the manager, and its default home (var/<name>): never a path.
    name: PlainName | None = None
    rpc_server: RpcServerConfig = field(default_factory=RpcServerConfig)
    # How long SIGTERM waits for running steps to reach a checkpoint before cancelling them.
    drain_timeout: Duration = 30.0
    # How often the worker tells its sector manager it is alive (WorkerPing), with its thread counts.
    ping_interval: PositiveDuration = 30.0
    # Deal pieces are read from these directories (a file named by the piece CID, or CID.car) before they
    # are fetched from the manager's piece store; `local_pieces_dir` is the reference's older single form.
    local_pieces_dirs: list[str] = field(default_factory=list)
    local_pieces_dir: str | None = None


@dataclass(frozen=True)
class SealingConfig:
    """The reference's `[sealing]` keys and defaults; merged per thread with its `sealing` overrides."""

    allowed_miners: list[int] | None = None
    allowed_sizes: list[SectorSizeText] | None = None
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
    # After PC2, run C1 with a zero seed and verify it (the reference's check; nothing to check when PC2 is
    # simulated).
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
    sector_size: SectorSize = 2048
    # The registered seal proof the devnet hands out with each sector; unset: the V1_1 proof of sector_size.
    proof_type: int | None = None
    block_time: PositiveDuration = 0.05
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
    # "devnet" (embedded, the default) or "rpc" (a damocles-manager or `devnet serve` at rpc_client.addr);
    # unset: "rpc" when rpc_client is given (the reference's own machine files), else "devnet".
    kind: str | None = None
    devnet: DevnetConfig = field(default_factory=DevnetConfig)
    rpc_client: RpcClientConfig | None = None
    # Bearer token for the manager's piece store (/piecestore/<cid>), as in the reference.
    piece_token: str | None = None


@dataclass(frozen=True)
class MetricsConfig:
    REFERENCE_KEYS: ClassVar[tuple[str, ...]] = reference_keys("metrics")

    enable: bool = True


# The proof stages a machine file may simulate, named after their steps.
PROOF_STAGES = ("pc1", "pc2", "c1", "c2", "snap_encode", "snap_prove")


@dataclass(frozen=True)
class ProofsConfig:
    """How the proving computations run on this host."""

    # Threads the multi-threaded C work of the whole worker may run at once (every sealing thread shares
    # them); unset: every core this process may use.
    threads: int | None = None
    # Where the SDR parent caches live (relative to the worker's home); FIL_PROOFS_PARENT_CACHE overrides it.
    parent_cache_dir: str = "parent-cache"
    # Stages to simulate instead of computing (see PROOF_STAGES), e.g. ["pc1", "pc2"] for a 32GiB demo on a
    # small machine. Simulated stages are labelled `simulated` wherever a user sees them.
    simulate: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _MachineFile:
    REFERENCE_KEYS: ClassVar[tuple[str, ...]] = reference_keys("")

    worker: WorkerSection = field(default_factory=WorkerSection)
    sealing: dict[str, Any] = field(default_factory=dict)
    sealing_thread: list[dict[str, Any]] = field(default_factory=list)
    attached: list[AttachedStore] = field(default_factory=list)
    sector_manager: SectorManagerConfig = field(default_factory=SectorManagerConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    proofs: ProofsConfig = field(default_factory=ProofsConfig)
    processors: dict[str, Any] = field(default_factory=dict)
    devnet_server: DevnetServerConfig = field(default_factory=DevnetServerConfig)


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
    processors: ProcessorsConfig = field(default_factory=ProcessorsConfig)
    devnet_server: DevnetServerConfig = field(default_factory=DevnetServerConfig)
    # One sentence per key of the reference worker's format that this worker accepts but does not implement.
    warnings: tuple[str, ...] = ()

    @property
    def local_pieces_dirs(self) -> list[Path]:
        """Where deal pieces are looked up first, in order (`local_pieces_dirs`, then the legacy single key)."""
        dirs = list(self.worker.local_pieces_dirs)
        if self.worker.local_pieces_dir is not None and not dirs:
            dirs.append(self.worker.local_pieces_dir)
        return [self.resolve(directory) for directory in dirs]

    def resolve(self, relative: str | Path) -> Path:
        """A path from the machine file, relative to the worker's home."""
        path = Path(relative)
        return path if path.is_absolute() else self.home / path


def default_home(name: str) -> Path:
    return Path("var") / name


def load_machine_file(
    path: str | Path, home: str | Path | None = None, *, require_threads: bool = True
) -> MachineConfig:
    """Read and validate a machine file; raises ConfigError as one line starting with the file's path.

    `require_threads=False` reads the manager's side of a cluster (`devnet serve`), which seals nothing."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read machine file: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{byte:02x} at offset {error.start})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: TOML syntax error: {error}") from error
    except RecursionError as error:
        raise ConfigError(f"{path}: TOML nested too deeply to be a machine file") from error
    try:
        return _build(path, raw, home, require_threads)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def _build(path: Path, raw: dict[str, Any], home: str | Path | None, require_threads: bool) -> MachineConfig:
    raw, warnings = set_aside_reference_keys(raw)
    machine = read_section(_MachineFile, raw, TOP_LEVEL)
    sealing_raw = machine.sealing
    global_sealing = read_section(SealingConfig, sealing_raw, "[sealing]")
    name = machine.worker.name or path.stem
    # Absolute from here on: steps, processor children and the stores' transfer routes run in other folders.
    home_path = (Path(home) if home is not None else default_home(name)).absolute()
    if not machine.sealing_thread and require_threads:
        raise ConfigError("no [[sealing_thread]] defined: a worker needs at least one thread")
    threads = []
    locations = []
    for index, thread_raw in enumerate(machine.sealing_thread):
        where = f"[[sealing_thread]] #{index}"
        section = read_section(_ThreadSection, thread_raw, where)
        sealing = read_section(SealingConfig, {**sealing_raw, **section.sealing}, f"{where} sealing")
        location = _under(home_path, section.location)
        locations.append((where, section.location, location))
        try:
            # A plan path in a machine file is relative to the file's own folder, like an include.
            plan_path = resolve_plan_path(section.plan, base_dir=path.absolute().parent)
        except PlanError as error:
            fault = error.faults[0]
            # A shipped plan's name shows as written; a path, as the absolute path that was tried.
            tried = shown(section.plan) if fault.source == section.plan else fault.source
            raise ConfigError(f"{where} plan: {fault.message} ({tried})") from error
        except OSError as error:  # e.g. a name too long to be a file name
            raise ConfigError(f"{where} plan: {error.strerror or error} ({shown(section.plan)})") from error
        threads.append(ThreadConfig(index, location, section.plan, plan_path, sealing))
    _check_attached(machine.attached)
    for index, store in enumerate(machine.attached):
        locations.append((f"[[attached]] #{index}", store.location, _under(home_path, store.location)))
    _check_locations(locations)
    _check_manager(machine.sector_manager)
    _check_proofs(machine.proofs)
    check_tls_pair("[worker.rpc_server]", machine.worker.rpc_server.tls_cert, machine.worker.rpc_server.tls_key)
    check_devnet_server(machine.devnet_server)
    return MachineConfig(
        path=path,
        name=name,
        home=home_path,
        worker=machine.worker,
        sealing=global_sealing,
        threads=threads,
        attached=machine.attached,
        sector_manager=_resolve_manager_kind(machine.sector_manager),
        metrics=machine.metrics,
        proofs=machine.proofs,
        processors=read_processors(machine.processors, home_path),
        devnet_server=machine.devnet_server,
        warnings=tuple(warnings),
    )


def _under(home: Path, location: str) -> Path:
    """A location from the file: relative ones are under the worker's home."""
    path = Path(location)
    return path if path.is_absolute() else home / path


def _check_attached(attached: list[AttachedStore]) -> None:
    """Store names are unique, and sectors have somewhere to go: the reference requires one store at least."""
    if not attached:
        raise ConfigError("[[attached]]: no persist store: a worker needs one (name, location) to persist sectors")
    if all(store.readonly for store in attached):
        raise ConfigError("[[attached]]: no writable persist store: with every store readonly no sector is persisted")
    names: set[str] = set()
    for index, store in enumerate(attached):
        name = store.name or store.location
        if name in names:
            raise ConfigError(f"[[attached]] #{index} name: duplicate store name {name!r}")
        names.add(name)


def _check_locations(locations: list[tuple[str, str, Path]]) -> None:
    """No two threads or stores share a directory, nor lie one inside the other: a thread's local files and a
    store's persisted ones would then be the same files, and cleaning one would delete the other.

    Compared after resolving `..` and symbolic links, so `threads/0/../0` is `threads/0`."""
    seen: list[tuple[str, str, Path]] = []
    for where, written, location in locations:
        real = Path(os.path.realpath(location))
        for other, other_written, other_real in seen:
            if real == other_real:
                relation = "is the location of"
            elif real.is_relative_to(other_real):
                relation = "lies inside the location of"
            elif other_real.is_relative_to(real):
                relation = "contains the location of"
            else:
                continue
            raise ConfigError(f"{where} location: {written!r} {relation} {other} ({other_written!r})")
        seen.append((where, written, real))


MANAGER_KINDS = ("devnet", "rpc")


def _check_manager(manager: SectorManagerConfig) -> None:
    if manager.kind is not None and manager.kind not in MANAGER_KINDS:
        raise ConfigError(f"[sector_manager] kind: unknown kind {manager.kind!r} (available: devnet, rpc)")
    if manager.kind == "rpc" and manager.rpc_client is None:
        raise ConfigError('[sector_manager] rpc_client.addr: required with kind = "rpc" (the manager\'s address)')
    if manager.rpc_client is not None:
        check_rpc_client(manager.rpc_client)
    size = manager.devnet.sector_size
    if manager.devnet.proof_type is not None:
        try:
            proof = seal_proof(manager.devnet.proof_type)
        except ValueError as error:
            raise ConfigError(f"[sector_manager.devnet] proof_type: {error}") from error
        if proof.sector_size != size:
            raise ConfigError(
                f"[sector_manager.devnet] proof_type: {proof.id} ({proof.name}) seals {format_size(proof.sector_size)}"
                f" sectors, not {format_size(size)}"
            )


def _resolve_manager_kind(manager: SectorManagerConfig) -> SectorManagerConfig:
    """An unset kind is "rpc" when rpc_client is given (as the reference's own files are), else "devnet"."""
    if manager.kind is not None:
        return manager
    return dataclasses.replace(manager, kind="devnet" if manager.rpc_client is None else "rpc")


def _check_proofs(proofs: ProofsConfig) -> None:
    if proofs.threads is not None and not 1 <= proofs.threads <= MAX_PROOF_THREADS:
        raise ConfigError(f"[proofs] threads: must be from 1 to {MAX_PROOF_THREADS}, got {proofs.threads}")
    unknown = [stage for stage in proofs.simulate if stage not in PROOF_STAGES]
    if unknown:
        raise ConfigError(f"[proofs] simulate: unknown stage {unknown[0]!r} (stages: {', '.join(PROOF_STAGES)})")
    if "c1" in proofs.simulate and not {"pc1", "pc2"} & set(proofs.simulate):
        raise ConfigError(
            "[proofs] simulate: c1 is simulated only with pc2 (a simulated C1 proves nothing about a replica sealed "
            "for real, and the devnet rejects it; the real C1 takes milliseconds)"
        )

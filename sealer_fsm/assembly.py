"""Wiring a worker from a machine file: its sector manager, attached stores and the built-in steps.

`sealer-fsm run` and the end-to-end tests build the worker the same way, through `build_worker`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from pathlib import Path

from sealer_fsm.config import MachineConfig
from sealer_fsm.manager import CallObserver, ManagerError, MeteredManager, SectorManager
from sealer_fsm.manager.devnet import DevnetManager, OffLoopDevnet
from sealer_fsm.manager.venus import RpcTransport, VenusClient
from sealer_fsm.processors import Processors
from sealer_fsm.proofs import configure_parent_cache_dir, configure_threads, parent_cache_dir
from sealer_fsm.runtime import Clock, HomeError, Services, Worker
from sealer_fsm.steps import builtin_registry
from sealer_fsm.steps.stages import builtin_stage
from sealer_fsm.wiring import connect_manager

# rust-fil-proofs' variable for the parent caches' folder: processor children look there, as the worker does.
PARENT_CACHE_ENVIRONMENT = "FIL_PROOFS_PARENT_CACHE"

log = logging.getLogger("sealer_fsm.assembly")


def attached_stores(config: MachineConfig, readonly: bool = False) -> dict[str, Path]:
    """The writable (or with `readonly`, the read-only) attached stores by name (a store without a name is
    named by its location)."""
    return {
        store.name or store.location: config.resolve(store.location)
        for store in config.attached
        if store.readonly == readonly
    }


def build_devnet(config: MachineConfig, now: Callable[[], float] | None = None) -> DevnetManager:
    """The machine file's devnet chain, in its home, judging persisted files in its writable attached stores."""
    stores = attached_stores(config)
    for path in stores.values():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HomeError(f"cannot create the attached store {path}: {error.strerror or error}") from error
    return DevnetManager(
        config.sector_manager.devnet, config.home, stores, now=now, readonly_stores=attached_stores(config, True)
    )


def build_manager(config: MachineConfig, now: Callable[[], float] | None = None) -> OffLoopDevnet | VenusClient:
    """The configured sector manager: the embedded devnet, or the Venus client of `[sector_manager] rpc_client`
    (a damocles-manager, or another host's `sealer-fsm devnet serve`). The embedded devnet runs on its own
    thread: its SQLite commits and deal data never stall the worker's event loop."""
    settings = config.sector_manager
    if settings.kind != "rpc":
        return OffLoopDevnet(build_devnet(config, now))
    client = settings.rpc_client
    assert client is not None, "the config loader requires rpc_client with kind = rpc"
    transport = RpcTransport(
        client.url,
        headers=client.headers,
        timeout=client.timeout,
        retry_for=client.retry_for,
        ca_file=None if client.tls_ca is None else str(config.resolve(client.tls_ca)),
    )
    return VenusClient(transport, piece_token=settings.piece_token, local_pieces_dirs=config.local_pieces_dirs)


class UnknownStore(Exception):
    """An attached store the sector manager does not know: it would never choose it (one sentence)."""


async def check_stores_known(manager: SectorManager, stores: list[str], where: str) -> None:
    """As the reference worker does at start: every attached store must exist on the manager (StoreBasicInfo).
    A manager that cannot be reached now is not a reason to refuse starting; an unknown name is."""
    for name in stores:
        try:
            known = await manager.store_info(name)
        except ManagerError as error:
            log.warning("cannot check the attached stores with the sector manager now: %s", error)
            return
        if known is None:
            raise UnknownStore(
                f"[[attached]] store {name!r} is not known to the sector manager at {where}"
                " (its name must be the manager's name for that store)"
            )


async def close_manager(manager: object) -> None:
    """Release what the manager holds (the devnet's database, the client's connections), whichever it is."""
    close = getattr(manager, "close", None)
    result = close() if close is not None else None
    if inspect.isawaitable(result):
        await result


def external_programs(config: MachineConfig) -> list[str]:
    """The stages an operator's own program computes (a `[[processors.<stage>]]` entry with a `bin`)."""
    return [stage for stage, entries in config.processors.external.items() if any(entry.bin for entry in entries)]


def build_worker(
    config: MachineConfig, *, clock: Clock | None = None, manager_calls: CallObserver | None = None
) -> Worker:
    """A worker with the built-in steps, the sector manager and the attached stores; the manager hears of every
    state change, and `manager_calls` of every step's call. `[proofs]` sets the thread budget, the parent cache
    folder and the stages run simulated; `[processors]` the stage limits and the external processors."""
    configure_threads(config.proofs.threads)
    configure_parent_cache_dir(config.resolve(config.proofs.parent_cache_dir))
    manager = build_manager(config, now=None if clock is None else clock.now)
    worker = Worker(
        config,
        builtin_registry(simulate=config.proofs.simulate, proven_externally=external_programs(config)),
        services=Services(
            manager=manager if manager_calls is None else MeteredManager(manager, manager_calls),
            stores=attached_stores(config),
            readonly_stores=attached_stores(config, readonly=True),
            processors=Processors(
                config.processors,
                builtin=builtin_stage,
                child_env={PARENT_CACHE_ENVIRONMENT: str(parent_cache_dir())},
            ),
        ),
        clock=clock,
    )
    connect_manager(worker, manager)
    return worker

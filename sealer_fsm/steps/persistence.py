"""Real steps: copy a sector's replica and cache into a persist store the manager picks (StoreReserveSpace).

The copy is the transfer stage, run through processors (`ctx.processors.run("transfer", ...)`) with the
reference's task shape. As the reference's transfer does, the cache files copied are TreeR-last, p_aux and
t_aux; PC1's layers and TreeC stay in the thread's cache for C1 and go when the sector is finished.

Copies go through temporary names and replace what an interrupted earlier run left, so running again after a
crash (or after a RePersist) is safe.
"""

from __future__ import annotations

from typing import Any

from sealer_fsm.manager import StoreInfo
from sealer_fsm.processors.tasks import transfer_route
from sealer_fsm.proofs import is_persisted_cache_file
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    call,
    file_errors,
    manager,
    sector_id,
    store_path,
)

SEALED_FILES = ("sealed", "cache")
UPDATE_FILES = ("update", "update-cache")


def transfer_task(local: SectorFiles, store: SectorFiles, store_name: str, kinds: tuple[str, str]) -> dict[str, Any]:
    """The reference's transfer task: the replica file and its cache directory (`kinds`, e.g. sealed + cache)
    from the thread's `local` files into `store`'s."""
    for kind in kinds:
        if not local.path(kind).exists():
            raise Permanent(f"cannot persist {local.name}: {local.path(kind)} is missing")
    replica, cache = kinds
    with file_errors(f"list {local.path(cache)}"):
        kept = sorted(path.name for path in local.path(cache).iterdir() if is_persisted_cache_file(path.name))
    return {
        "stores": {store_name: {"name": store_name, "meta": None}},
        "routes": [
            transfer_route(local.path(replica), store.path(replica), store_name),
            transfer_route(local.path(cache), store.path(cache), store_name, keep=kept),
        ],
    }


def reserved_size(sector_size: int) -> int:
    """What the reference reserves in a persist store: twice the sector below 32GiB, 1.02 times from 32GiB."""
    return sector_size * 2 if sector_size < 32 << 30 else sector_size + sector_size // 50


async def _reserve(ctx: StepContext) -> StoreInfo:
    """Ask for a store among the writable attached ones until one has room, as the reference does (null: retry
    after rpc_polling_interval); a worker without a writable store cannot persist anything (Permanent)."""
    candidates = sorted(ctx.stores)
    if not candidates:
        raise Permanent("no writable [[attached]] store to persist to (every attached store is read-only)")
    size = reserved_size(ctx.require("sector_size"))
    while True:
        store = await call("StoreReserveSpace", manager(ctx).reserve_space(sector_id(ctx), size, candidates))
        if store is not None:
            return store
        ctx.log.info("%s: no persist store has room yet", ctx.sector)
        await ctx.sleep(ctx.sealing.rpc_polling_interval)


async def _persist(ctx: StepContext, kinds: tuple[str, str]) -> StepResult:
    local = SectorFiles.of(ctx)
    store = await _reserve(ctx)
    target = SectorFiles(store_path(ctx, store.name), local.name)
    await ctx.processors.run("transfer", transfer_task(local, target, store.name, kinds))
    ctx.log.info("%s: %s and %s persisted to store %s", local.name, *kinds, store.name)
    return Outcome("Persist", {"persist_instance": store.name})


async def persist_sealed(ctx: StepContext) -> StepResult:
    """PCLanded → Persisted: the sealed file and cache go to a persist store."""
    return await _persist(ctx, SEALED_FILES)


async def persist_update(ctx: StepContext) -> StepResult:
    """SnapProved → Persisted: the updated replica and its cache go to a persist store."""
    return await _persist(ctx, UPDATE_FILES)


async def persist_rebuilt(ctx: StepContext) -> StepResult:
    """rebuild SnapDone → Persisted: an upgraded sector's update files (as the reference's rebuild persists
    them), else its sealed file and cache."""
    return await _persist(ctx, UPDATE_FILES if "upgrade" in ctx.data else SEALED_FILES)

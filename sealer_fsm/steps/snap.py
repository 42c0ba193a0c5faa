"""Snap deals (empty sector update): encode the new data into a finished CC sector and prove it. SIMULATED.

The transfer of the old replica from its store is real (as the reference's snapup TreeDBuilt handler does); the
encoding and the update proof are simulated (see `sealer_fsm.simulated`), labelled as such in data and logs.
"""

from __future__ import annotations

from sealer_fsm import simulated
from sealer_fsm.proofs import sealed_cid
from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    access_store_path,
    call,
    copy_file_atomically,
    copy_tree_atomically,
    manager,
)


def _encode_update(local: SectorFiles, access: SectorFiles, new_comm_r: bytes) -> None:
    """Fetch the old replica, then write the (simulated) updated replica and its cache."""
    if not access.sealed.is_file() or not access.cache.is_dir():
        raise Permanent(f"the replica of {local.name} is missing from its store ({access.root})")
    copy_file_atomically(access.sealed, local.sealed)
    copy_tree_atomically(access.cache, local.cache)
    copy_file_atomically(local.unsealed, local.path("update"))
    update_cache = local.path("update-cache")
    update_cache.mkdir(parents=True, exist_ok=True)
    (update_cache / "p_aux").write_bytes(new_comm_r)


@simulated_step
async def snap_encode(ctx: StepContext) -> StepResult:
    """TreeDBuilt → SnapEncoded. SIMULATED: the new CommR binds the old CommR and the new CommD."""
    instance = ctx.require("access_instance")
    if await call("StoreBasicInfo", manager(ctx).store_info(instance)) is None:
        raise Permanent(f"the sector manager does not know store {instance!r}, which holds {ctx.sector}")
    local = SectorFiles.of(ctx)
    access = SectorFiles(access_store_path(ctx, instance), local.name)
    new_comm_r = simulated.snap_comm_r(bytes.fromhex(ctx.require("old_comm_r")), bytes.fromhex(ctx.require("comm_d")))
    await ctx.run_blocking(_encode_update, local, access, new_comm_r)
    ctx.log.info("%s: snap encode simulated, new CommR %s", local.name, new_comm_r.hex()[:16])
    return Outcome(
        "SnapEncode", {"comm_r": new_comm_r.hex(), "comm_r_cid": sealed_cid(new_comm_r), "comm_r_simulated": True}
    )


@simulated_step
async def snap_prove(ctx: StepContext) -> StepResult:
    """SnapEncoded → SnapProved. SIMULATED: a marked blob, not a Groth16 update proof."""
    proof = simulated.snap_proof(
        ctx.require("miner"),
        ctx.require("number"),
        bytes.fromhex(ctx.require("old_comm_r")),
        bytes.fromhex(ctx.require("comm_r")),
        bytes.fromhex(ctx.require("comm_d")),
    )
    ctx.log.info("%s: snap prove simulated (%d-byte proof)", ctx.sector, len(proof))
    return Outcome("SnapProve", {"proof": simulated.to_text(proof)})

"""Snap deals (empty sector update): encode the new data into a finished CC sector, and prove it (SIMULATED).

The transfer of the old replica (the sector key) and its cache from their store is real, as the reference's
snapup TreeDBuilt handler does. The encoding is real on a sector sealed for real: the snap_encode processor
(`sealer_fsm.proofs.snap_encode_into` in-process, or an external one) writes the new replica in `update/`, its
TreeR-last, p_aux and t_aux in `update-cache/`. A sector
whose PC2 was simulated has no real replica to encode into: it gets the simulated encoding, labelled as such in
task data (`comm_r_simulated`) and logs, and so does every sector on a machine whose `[proofs] simulate` names
snap_encode. The update proof (Groth16) is always simulated (see `sealer_fsm.simulated`).
"""

from __future__ import annotations

from sealer_fsm import simulated
from sealer_fsm.proofs import hash2, hash_node, sealed_cid
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
from sealer_fsm.steps._tasks import output_bytes, snap_encode_task


async def _fetch_sector_key(ctx: StepContext) -> SectorFiles:
    """Copy the old replica and its cache from the store the manager names into this thread's data folder."""
    instance = ctx.require("access_instance")
    if await call("StoreBasicInfo", manager(ctx).store_info(instance)) is None:
        raise Permanent(f"the sector manager does not know store {instance!r}, which holds {ctx.sector}")
    local = SectorFiles.of(ctx)
    access = SectorFiles(access_store_path(ctx, instance), local.name)
    await ctx.run_blocking(_copy_sector_key, local, access)
    return local


def _copy_sector_key(local: SectorFiles, access: SectorFiles) -> None:
    if not access.sealed.is_file() or not access.cache.is_dir():
        raise Permanent(f"the replica of {local.name} is missing from its store ({access.root})")
    copy_file_atomically(access.sealed, local.sealed)
    copy_tree_atomically(access.cache, local.cache)


def sealed_for_real(local: SectorFiles, old_comm_r: bytes) -> bool:
    """Whether the sector key came from a real PC2: its p_aux hashes to the CommR with Poseidon (a simulated PC2
    writes SHA-256 stand-ins that hash to it with the sha256-trunc254 node hash instead)."""
    p_aux = local.cache / "p_aux"
    try:
        content = p_aux.read_bytes()
    except FileNotFoundError:
        raise Permanent(f"{p_aux} is missing: the sector key has no PC2 commitments") from None
    comm_c, comm_r_last = content[:32], content[32:]
    if len(content) == 64 and hash2(comm_c, comm_r_last) == old_comm_r:
        return True
    if len(content) == 64 and hash_node(comm_c, comm_r_last) == old_comm_r:
        return False
    raise Permanent(f"{p_aux} does not match the sector's CommR {old_comm_r.hex()}")


def _write_simulated_update(local: SectorFiles, new_comm_r: bytes) -> None:
    """The simulated update: the staged data as the new replica, the new CommR in update-cache's p_aux."""
    copy_file_atomically(local.unsealed, local.path("update"))
    update_cache = local.path("update-cache")
    update_cache.mkdir(parents=True, exist_ok=True)
    (update_cache / "p_aux").write_bytes(new_comm_r)


async def simulated_update(ctx: StepContext, local: SectorFiles, why: str) -> Outcome:
    new_comm_r = simulated.snap_comm_r(bytes.fromhex(ctx.require("old_comm_r")), bytes.fromhex(ctx.require("comm_d")))
    async with ctx.processors.slot("snap_encode"):
        await ctx.run_blocking(_write_simulated_update, local, new_comm_r)
    ctx.log.info("%s: snap encode simulated (%s), new CommR %s", local.name, why, new_comm_r.hex()[:16])
    return Outcome(
        "SnapEncode", {"comm_r": new_comm_r.hex(), "comm_r_cid": sealed_cid(new_comm_r), "comm_r_simulated": True}
    )


async def snap_encode(ctx: StepContext) -> StepResult:
    """TreeDBuilt → SnapEncoded: the new replica from the sector key and the new data, by the snap_encode processor
    (simulated when the sector key is); safe to run again, a new replica and TreeR-last already whole for the same
    inputs are kept."""
    return await encode_update(ctx, await _fetch_sector_key(ctx))


async def encode_update(ctx: StepContext, local: SectorFiles) -> Outcome:
    """The new data (`unsealed/`) encoded into the sector key (`sealed/` and `cache/`) of `local`, whose CommR is
    the task's `old_comm_r`: the new replica in `update/`, its trees in `update-cache/`, and the new CommR."""
    old_comm_r = bytes.fromhex(ctx.require("old_comm_r"))
    if not await ctx.run_blocking(sealed_for_real, local, old_comm_r):
        return await simulated_update(ctx, local, "the sector was sealed with a simulated PC2")
    result = await ctx.processors.run("snap_encode", snap_encode_task(ctx, local))
    comm_d_new, comm_r_new = output_bytes(result, "comm_d_new"), output_bytes(result, "comm_r_new")
    if comm_d_new.hex() != ctx.require("comm_d"):
        raise Permanent(f"snap encode: the staged data's CommD {comm_d_new.hex()} is not the task's CommD")
    ctx.log.info("%s: snap encode done by %s, new CommR %s", local.name, result.processor, comm_r_new.hex()[:16])
    return Outcome(
        "SnapEncode",
        {
            "comm_r": comm_r_new.hex(),
            "comm_r_cid": sealed_cid(comm_r_new),
            "snap_out": {"comm_r_last": output_bytes(result, "comm_r_last_new").hex()},
        },
    )


@simulated_step
async def simulated_snap_encode(ctx: StepContext) -> StepResult:
    """TreeDBuilt → SnapEncoded where `[proofs] simulate` names snap_encode. SIMULATED: the new CommR binds the old
    CommR and the new CommD."""
    local = await _fetch_sector_key(ctx)
    return await simulated_update(ctx, local, "[proofs] simulate")


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

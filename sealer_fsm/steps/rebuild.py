"""The rebuild plan's own steps: a lost sector sealed again, checked against the chain before it is persisted.

The rebuild plan runs the sealer's and snapup's steps for the work they share (add_pieces, build_tree_d, pc1 with
the ticket the allocation stored, which is the sector's original one, pc2, snap_prove, submit_persisted,
report_finalized). What differs is here:

* `check_sealed`: the rebuilt CommR must be the chain's, or the task fails permanently with both values, before
  anything is persisted (so a wrong replica never replaces a good copy); then C1 with the ticket as the seed must
  verify, as the reference checks a rebuilt replica;
* `prepare_for_snapup`: an upgraded sector's upgrade deals staged into it, or SkipSnap;
* `rebuild_snap_encode`: the update encoded into the rebuilt sector key, its CommR checked against the chain's
  upgraded one the same way.

The persist step (`persist_rebuilt`, with the other persistence steps) then copies the update files of an
upgraded sector, else the sealed file and cache, as the reference's rebuild does.
"""

from __future__ import annotations

from sealer_fsm.manager import Deal, Randomness
from sealer_fsm.proofs import sealed_cid
from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import SectorFiles
from sealer_fsm.steps.pieces import stage_deals
from sealer_fsm.steps.sealing import verify_sealed
from sealer_fsm.steps.snap import encode_update, simulated_update


def _check_against_chain(ctx: StepContext, what: str, rebuilt: str, chain: str | None) -> None:
    """A rebuilt CommR the chain disagrees with is Permanent, with both values: running again gives the same."""
    if chain is None:
        ctx.log.warning("%s: the manager gave no %s to check the rebuilt one against", ctx.sector, what)
    elif rebuilt != chain:
        raise Permanent(
            f"the rebuilt {what} of {ctx.sector} is {sealed_cid(bytes.fromhex(rebuilt))}, but the chain has "
            f"{sealed_cid(bytes.fromhex(chain))}: the replica is not the one on chain, and was not persisted"
        )


async def check_sealed(ctx: StepContext) -> StepResult:
    """PC2Done → SealedChecked: the rebuilt CommR is the one the chain recorded for the sector, and, as the
    reference's rebuild checks a replica, C1 with the sector's ticket as the seed builds proofs that verify."""
    comm_r = ctx.require("comm_r")
    _check_against_chain(ctx, "CommR", comm_r, ctx.data.get("chain_comm_r"))
    if ctx.data.get("comm_r_simulated"):
        ctx.log.info("%s: the rebuilt CommR is the chain's (PC2 simulated: no C1 check)", ctx.sector)
        return "CheckSealed"
    ticket = Randomness.from_json(ctx.require("ticket")).value
    files = SectorFiles.of(ctx)
    challenges = await verify_sealed(ctx, files, ticket, bytes.fromhex(comm_r), "CheckSealed")
    ctx.log.info(
        "%s: the rebuilt CommR is the chain's, and C1 with its ticket verifies (%d challenges)", ctx.sector, challenges
    )
    return "CheckSealed"


async def prepare_for_snapup(ctx: StepContext) -> StepResult:
    """SealedChecked → SnapDone (SkipSnap) for a sector that was not upgraded; → SnapPieceAdded (AddPiece) with
    the upgrade's deals staged, the rebuilt CommR becoming the sector key's (`old_comm_r`), for one that was."""
    upgrade = ctx.data.get("upgrade")
    if upgrade is None:
        return "SkipSnap"
    staged = await stage_deals(ctx, [Deal.from_json(raw) for raw in upgrade["deals"]])
    return Outcome(staged.event, {**staged.data, "old_comm_r": ctx.require("comm_r")})


def _upgraded_as_on_chain(ctx: StepContext, encoded: Outcome) -> Outcome:
    _check_against_chain(ctx, "CommR of the upgrade", encoded.data["comm_r"], ctx.require("upgrade")["comm_r"])
    return encoded


async def rebuild_snap_encode(ctx: StepContext) -> StepResult:
    """SnapTreeDBuilt → SnapEncoded: the upgrade's data encoded into the rebuilt sector key (the replica PC2 just
    wrote), whose new CommR must be the chain's upgraded CommR."""
    return _upgraded_as_on_chain(ctx, await encode_update(ctx, SectorFiles.of(ctx)))


@simulated_step
async def simulated_rebuild_snap_encode(ctx: StepContext) -> StepResult:
    """SnapTreeDBuilt → SnapEncoded where `[proofs] simulate` names snap_encode (the upgrade was encoded the same
    way). SIMULATED: the new CommR binds the sector key's CommR and the new CommD."""
    return _upgraded_as_on_chain(ctx, await simulated_update(ctx, SectorFiles.of(ctx), "[proofs] simulate"))

"""The sealing computations between TreeD and the proof submission: ticket, PC1, PC2, C1, C2.

The ticket is real (drawn by the manager from its chain). PC1, PC2, C1 and C2 are SIMULATED (see
`sealer_fsm.simulated`): deterministic stand-ins bound to the same inputs as the real computations, labelled
`simulated` in task data and logs. They keep the reference's re-run rules: PC1 starts clean, PC2 rewrites the
replica and its cache through temporary files.
"""

from __future__ import annotations

from typing import Any

from sealer_fsm import simulated
from sealer_fsm.manager import Randomness
from sealer_fsm.proofs import replica_id, sealed_cid
from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import Outcome, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    call,
    copy_file_atomically,
    manager,
    remove_path,
    sector_id,
)


async def assign_ticket(ctx: StepContext) -> StepResult:
    """TreeDBuilt → TicketAssigned: the PC1 ticket from the chain (a fresh one once the old one expired)."""
    ticket = await call("AssignTicket", manager(ctx).assign_ticket(sector_id(ctx)))
    return Outcome("AssignTicket", {"ticket": ticket.to_json()})


def replica_id_of(data: Any) -> bytes:
    """The replica id from task data: prover, sector number, ticket, CommD and proof type."""
    ticket = Randomness.from_json(data["ticket"])
    return replica_id(
        data["miner"], data["number"], ticket.value, bytes.fromhex(data["comm_d"]), data["proof_type"]
    )


def _start_replica(files: SectorFiles) -> None:
    """PC1 always starts clean: no cache, no sealed file (the reference wipes both)."""
    remove_path(files.cache)
    remove_path(files.sealed)
    files.cache.mkdir(parents=True)


@simulated_step
async def pc1(ctx: StepContext) -> StepResult:
    """TicketAssigned → PC1Done. SIMULATED: computes the real replica id but runs no SDR labelling."""
    files = SectorFiles.of(ctx)
    replica = replica_id_of(ctx.data)
    await ctx.run_blocking(_start_replica, files)
    ctx.log.info("%s: PC1 simulated (replica id %s, no SDR labels)", files.name, replica.hex()[:16])
    return Outcome("PC1", {"pc1_out": {"simulated": True, "replica_id": replica.hex()}})


def _write_replica(files: SectorFiles, comm_c: bytes, comm_r_last: bytes) -> None:
    """The simulated replica is the staged data itself; p_aux holds comm_c ‖ comm_r_last as the real one does."""
    files.cache.mkdir(parents=True, exist_ok=True)
    copy_file_atomically(files.unsealed, files.sealed)
    p_aux = files.cache / "p_aux"
    temporary = p_aux.with_name("p_aux.tmp")
    temporary.write_bytes(comm_c + comm_r_last)
    temporary.replace(p_aux)


@simulated_step
async def pc2(ctx: StepContext) -> StepResult:
    """PC1Done → PC2Done. SIMULATED: CommR from SHA-256 stand-ins for the Poseidon trees."""
    files = SectorFiles.of(ctx)
    replica = bytes.fromhex(ctx.require("pc1_out")["replica_id"])
    comm_c, comm_r_last, comm_r = simulated.comm_r(replica, bytes.fromhex(ctx.require("comm_d")))
    await ctx.run_blocking(_write_replica, files, comm_c, comm_r_last)
    ctx.log.info("%s: PC2 simulated, CommR %s", files.name, comm_r.hex()[:16])
    return Outcome("PC2", {"comm_r": comm_r.hex(), "comm_r_cid": sealed_cid(comm_r), "comm_r_simulated": True})


@simulated_step
async def c1(ctx: StepContext) -> StepResult:
    """SeedAssigned → C1Done. SIMULATED: one digest over replica id, CommR, CommD and the seed."""
    seed = Randomness.from_json(ctx.require("seed"))
    digest = simulated.c1_digest(
        replica_id_of(ctx.data), bytes.fromhex(ctx.require("comm_r")), bytes.fromhex(ctx.require("comm_d")), seed.value
    )
    ctx.log.info("%s: C1 simulated (seed epoch %d)", ctx.sector, seed.epoch)
    return Outcome("C1", {"c1_out": {"simulated": True, "digest": digest.hex()}})


@simulated_step
async def c2(ctx: StepContext) -> StepResult:
    """C1Done → C2Done. SIMULATED: a 192-byte blob marked SIMULATED-PROOF, not a Groth16 proof."""
    proof = simulated.porep_proof(bytes.fromhex(ctx.require("c1_out")["digest"]))
    ctx.log.info("%s: C2 simulated (%d-byte proof)", ctx.sector, len(proof))
    return Outcome("C2", {"proof": simulated.to_text(proof)})

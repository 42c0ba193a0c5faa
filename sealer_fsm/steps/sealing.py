"""The sealing computations between TreeD and the proof submission: ticket, PC1, PC2, C1, C2.

The ticket is real (drawn by the manager from its chain). PC1, PC2, C1 and C2 run as processors
(`ctx.processors.run`): under `[processors]` limits, in this process or in external children. PC1 is real (the
replica id and every SDR layer, in the sector's cache folder: `sealer_fsm.proofs.seal_pre_commit_phase1`), and
so are PC2 (TreeC, TreeR-last, the replica in `sealed/` and CommR: `sealer_fsm.proofs.precommit_phase2`) and C1
(the vanilla proofs in the reference's JSON: `sealer_fsm.proofs.seal_commit_phase1`). The built-in C2 is
SIMULATED (see `sealer_fsm.simulated`): a stand-in bound to the C1 output, labelled `simulated` in task data and
logs; C2 is real when an external prover makes it. So are PC1, PC2 and C1 on a machine whose `[proofs] simulate`
names them (`simulated_pc1`, `simulated_pc2`, `simulated_c1`, which do their work in the step). PC1 and PC2 keep
what a killed run completed: PC1 its whole layers, PC2 its whole trees; every file is written under a temporary
name and renamed when whole.
"""

from __future__ import annotations

import json
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.manager import Randomness
from sealer_fsm.proofs import CancelToken, build_tree_d, replica_id, seal_proof, sealed_cid, tree_d_file
from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    call,
    copy_file_atomically,
    file_errors,
    manager,
    remove_path,
    sector_id,
    write_file_atomically,
)
from sealer_fsm.steps._tasks import (
    c1_task,
    c2_task,
    output_bytes,
    output_field,
    pc1_task,
    pc2_task,
    read_c1_output,
)
from sealer_fsm.steps.stages import prove_c1
from sealer_fsm.units import format_size


async def assign_ticket(ctx: StepContext) -> StepResult:
    """TreeDBuilt → TicketAssigned: the PC1 ticket from the chain (a fresh one once the old one expired)."""
    ticket = await call("AssignTicket", manager(ctx).assign_ticket(sector_id(ctx)))
    return Outcome("AssignTicket", {"ticket": ticket.to_json()})


def replica_id_of(data: Any) -> bytes:
    """The replica id from task data: prover, sector number, ticket, CommD and proof type."""
    ticket = Randomness.from_json(data["ticket"])
    return replica_id(data["miner"], data["number"], ticket.value, bytes.fromhex(data["comm_d"]), data["proof_type"])


def _expected_replica(ctx: StepContext) -> bytes:
    """The replica id PC1 must label for, from task data; every value PC1 uses is checked on the way (a value it
    cannot use is Permanent: running again cannot fix it)."""
    try:
        proof = seal_proof(ctx.require("proof_type"))
        if proof.sector_size != ctx.require("sector_size"):
            raise ValueError(
                f"seal proof {proof.id} ({proof.name}) seals {format_size(proof.sector_size)} sectors, not "
                f"{format_size(ctx.require('sector_size'))}"
            )
        return replica_id_of(ctx.data)
    except (ValueError, TypeError, KeyError) as error:
        raise Permanent(f"PC1: {error}") from error


async def pc1(ctx: StepContext) -> StepResult:
    """TicketAssigned → PC1Done: the replica id and every SDR layer, in the sector's cache folder, computed by the
    pc1 processor (in this process, or an external one under `[processors]`).

    Safe to run again: the layers already complete for the same replica id are kept, so a kill -9 costs at most
    the layer being written. The parent cache is generated on first use, once per graph and host.
    """
    files = SectorFiles.of(ctx)
    expected = _expected_replica(ctx).hex()
    result = await ctx.processors.run("pc1", pc1_task(ctx, files))
    replica = output_field(result, "replica_id", str)
    if replica != expected:
        raise Permanent(
            f"processor {result.processor} labelled PC1 for replica id {replica[:16]}..., not this sector's"
            f" {expected[:16]}... (do the sector's pieces give its CommD?)"
        )
    layers = output_field(result, "layers", list)
    ctx.log.info(
        "%s: PC1 done by %s in %.1f s (%d layers, %.0f labels/s), replica id %s",
        files.name,
        result.processor,
        result.output.get("seconds") or 0.0,
        len(layers),
        result.output.get("labels_per_second") or 0.0,
        replica[:16],
    )
    pc1_out = {
        "registered_proof": output_field(result, "registered_proof", str),
        "replica_id": replica,
        "proof_type": output_field(result, "proof_type", int),
        "comm_d": output_field(result, "comm_d", list),
        "in_path": output_field(result, "in_path", str),
        "layers": layers,
    }
    return Outcome("PC1", {"pc1_out": pc1_out})


def _start_replica(files: SectorFiles) -> None:
    """Simulated PC1 starts clean: no cache, no sealed file (the reference wipes both)."""
    remove_path(files.cache)
    remove_path(files.sealed)
    files.cache.mkdir(parents=True)


@simulated_step
async def simulated_pc1(ctx: StepContext) -> StepResult:
    """TicketAssigned → PC1Done where `[proofs] simulate` names pc1. SIMULATED: the real replica id, no SDR
    labelling."""
    files = SectorFiles.of(ctx)
    replica = replica_id_of(ctx.data)
    async with ctx.processors.slot("pc1"):
        await ctx.run_blocking(_start_replica, files)
    ctx.log.info("%s: PC1 simulated (replica id %s, no SDR labels)", files.name, replica.hex()[:16])
    return Outcome("PC1", {"pc1_out": {"simulated": True, "replica_id": replica.hex()}})


async def pc2(ctx: StepContext) -> StepResult:
    """PC1Done → PC2Done: TreeC and TreeR-last from PC1's layers, the replica in `sealed/`, and CommR, computed by
    the pc2 processor (in this process, or an external one under `[processors]`).

    Safe to run again: trees already whole for the same layers are kept, so a kill -9 costs at most the tree
    being built. Missing or corrupt inputs are Permanent; I/O failures (a full disk) are Temporary.
    """
    files = SectorFiles.of(ctx)
    if ctx.require("pc1_out").get("simulated"):
        pc1_state = next((name for name, spec in ctx.plan.states.items() if spec.step == "pc1"), "?")
        raise Permanent(
            "PC2: this sector's PC1 was simulated, so there are no SDR layers to seal; resume the thread into "
            f"{pc1_state} to run PC1 for real, or simulate pc2 too ([proofs] simulate)"
        )
    result = await ctx.processors.run("pc2", pc2_task(ctx, files))
    comm_r = output_bytes(result, "comm_r")
    ctx.log.info("%s: PC2 done by %s, CommR %s", files.name, result.processor, comm_r.hex()[:16])
    if ctx.sealing.verify_after_pc2:
        challenges = await verify_sealed(ctx, files, bytes(32), comm_r, "PC2 (verify_after_pc2)")
        ctx.log.info("%s: verify_after_pc2: C1 with a zero seed verifies (%d challenges)", files.name, challenges)
    pc2_out = {"comm_c": output_bytes(result, "comm_c").hex(), "comm_r_last": output_bytes(result, "comm_r_last").hex()}
    return Outcome("PC2", {"comm_r": comm_r.hex(), "comm_r_cid": sealed_cid(comm_r), "pc2_out": pc2_out})


async def verify_sealed(ctx: StepContext, files: SectorFiles, seed: bytes, comm_r: bytes, what: str) -> int:
    """The reference's check of a sealed replica (after PC2 under `verify_after_pc2` with a zero seed; a rebuilt
    sector's CheckSealed with its ticket): C1 for `seed`, built and verified in this process as the reference
    runs it, under the c1 stage's limits, writing no file. A proof that does not verify (layers or trees not the
    sector's) is Permanent, named by `what`. Returns the number of challenges proven."""
    task = c1_task(ctx, files, seed, comm_r)
    async with ctx.processors.slot("c1"):
        await ctx.run_blocking(_ensure_tree_d, files, ctx.require("proof_type"), what, ctx.cancel_token)
        check = await ctx.run_blocking(prove_c1, task, ctx.cancel_token, what)
    return check.challenges


def _write_replica(files: SectorFiles, comm_c: bytes, comm_r_last: bytes) -> None:
    """The simulated replica is the staged data itself; p_aux holds comm_c ‖ comm_r_last as the real one does."""
    copy_file_atomically(files.unsealed, files.sealed)
    write_file_atomically(files.cache / "p_aux", comm_c + comm_r_last)


@simulated_step
async def simulated_pc2(ctx: StepContext) -> StepResult:
    """PC1Done → PC2Done where `[proofs] simulate` names pc2. SIMULATED: CommR from SHA-256 stand-ins for the
    Poseidon trees."""
    files = SectorFiles.of(ctx)
    replica = bytes.fromhex(ctx.require("pc1_out")["replica_id"])
    comm_c, comm_r_last, comm_r = simulated.comm_r(replica, bytes.fromhex(ctx.require("comm_d")))
    async with ctx.processors.slot("pc2"):
        await ctx.run_blocking(_write_replica, files, comm_c, comm_r_last)
    ctx.log.info("%s: PC2 simulated, CommR %s", files.name, comm_r.hex()[:16])
    return Outcome("PC2", {"comm_r": comm_r.hex(), "comm_r_cid": sealed_cid(comm_r), "comm_r_simulated": True})


def _ensure_tree_d(files: SectorFiles, proof_type: int, what: str, cancel: CancelToken) -> None:
    """C1 reads TreeD from the cache folder; a sector staged before the tree_d step stored it (by an earlier
    version) gets it from the staged file first."""
    if tree_d_file(files.cache).is_file() or not files.unsealed.is_file():
        return
    try:
        with file_errors(f"{what}: build TreeD of {files.unsealed}", writing=files.cache):
            build_tree_d(files.cache, seal_proof(proof_type).sector_size, files.unsealed, cancel=cancel)
    except ValueError as error:
        raise Permanent(f"{what}: {error}") from error


def _refuse_simulated_trees(ctx: StepContext) -> None:
    if ctx.data.get("comm_r_simulated"):
        raise Permanent(
            "C1: this sector's PC2 was simulated, so there are no trees to prove; simulate pc2 again ([proofs] "
            "simulate, which simulates c1 too) or reseal the sector"
        )


async def c1(ctx: StepContext) -> StepResult:
    """SeedAssigned → C1Done: the vanilla proofs for the seed's challenges in the reference's JSON
    (`SealCommitPhase1Output`), by the c1 processor, written to `cache/<sector>/c1-output.json` and recorded by
    path and SHA-256 as `c1_out`.

    C1 verifies what it built before writing it, as the reference does: sector files that do not give the
    pre-committed CommR are Permanent. Safe to run again: the file is written whole or not at all."""
    files = SectorFiles.of(ctx)
    _refuse_simulated_trees(ctx)
    seed = Randomness.from_json(ctx.require("seed"))
    await ctx.run_blocking(_ensure_tree_d, files, ctx.require("proof_type"), "C1", ctx.cancel_token)
    result = await ctx.processors.run("c1", c1_task(ctx, files, seed.value, bytes.fromhex(ctx.require("comm_r"))))
    c1_out = {
        "path": output_field(result, "path", str),
        "sha256": output_field(result, "sha256", str),
        "registered_proof": output_field(result, "registered_proof", str),
        "challenges": output_field(result, "challenges", int),
    }
    await ctx.run_blocking(read_c1_output, c1_out, "C1")  # the file is there, and is what the processor says
    ctx.log.info(
        "%s: C1 done by %s in %.2f s (%d challenges, seed epoch %d)",
        ctx.sector,
        result.processor,
        result.output.get("seconds") or 0.0,
        c1_out["challenges"],
        seed.epoch,
    )
    return Outcome("C1", {"c1_out": c1_out})


@simulated_step
async def simulated_c1(ctx: StepContext) -> StepResult:
    """SeedAssigned → C1Done where `[proofs] simulate` names c1 (or PC2 was simulated: no trees to prove).
    SIMULATED: one digest over replica id, CommR, CommD and the seed."""
    seed = Randomness.from_json(ctx.require("seed"))
    digest = simulated.c1_digest(
        replica_id_of(ctx.data), bytes.fromhex(ctx.require("comm_r")), bytes.fromhex(ctx.require("comm_d")), seed.value
    )
    ctx.log.info("%s: C1 simulated (seed epoch %d)", ctx.sector, seed.epoch)
    return Outcome("C1", {"c1_out": {"simulated": True, "digest": digest.hex()}})


async def _c2_input(ctx: StepContext) -> Any:
    """The c2 task's `c1out`: the C1 output's JSON document (read back and checked against its digest), or a
    simulated C1's record."""
    c1_out = ctx.require("c1_out")
    if c1_out.get("simulated"):
        return c1_out
    return json.loads(await ctx.run_blocking(read_c1_output, c1_out, "C2"))


async def c2(ctx: StepContext) -> StepResult:
    """C1Done → C2Done: the SNARK, by the c2 processor. Built in it is SIMULATED (a blob marked SIMULATED-PROOF,
    committing to the C1 output); a `[[processors.c2]]` prover (any program speaking the protocol) gets the
    reference's `SealCommitPhase1Output` and makes a real one, recorded as its work."""
    result = await ctx.processors.run("c2", c2_task(ctx, await _c2_input(ctx)))
    proof = output_bytes(result, "proof", None)
    if simulated.is_simulated(proof):
        ctx.log.info("%s: C2 simulated by %s (%d-byte proof)", ctx.sector, result.processor, len(proof))
        return Outcome("C2", {"proof": simulated.to_text(proof)})
    prover = result.external.label if result.external is not None else result.processor
    ctx.log.info("%s: C2 by %s (%d-byte proof)", ctx.sector, prover, len(proof))
    return Outcome("C2", {"proof": proof.hex(), "proof_prover": prover})


@simulated_step
async def simulated_c2(ctx: StepContext) -> StepResult:
    """C1Done → C2Done where no prover program is configured: C2 by the built-in, SIMULATED, processor."""
    return await c2(ctx)

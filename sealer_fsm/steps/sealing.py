"""The sealing computations between TreeD and the proof submission: ticket, PC1, PC2, C1, C2.

The ticket is real (drawn by the manager from its chain), and so are PC1 (the replica id and every SDR layer,
in the sector's cache folder: `sealer_fsm.proofs.seal_pre_commit_phase1`), PC2 (TreeC, TreeR-last, the replica
in `sealed/` and CommR: `sealer_fsm.proofs.precommit_phase2`) and C1 (the vanilla proofs in the reference's JSON:
`sealer_fsm.proofs.run_c1`). C2 is SIMULATED (see `sealer_fsm.simulated`): a stand-in bound to the C1 output,
labelled `simulated` in task data and logs; so are PC1, PC2 and C1 on a machine whose `[proofs] simulate` names
them (`simulated_pc1`, `simulated_pc2`, `simulated_c1`). PC1 and PC2 keep what a killed run completed: PC1 its
whole layers, PC2 its whole trees; every file is written under a temporary name and renamed when whole.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.manager import Randomness
from sealer_fsm.proofs import (
    C1_OUTPUT_NAME,
    C1Output,
    CancelToken,
    CommitInputs,
    PreCommit1,
    build_tree_d,
    c1_output_json,
    parent_cache_dir,
    precommit_phase2,
    replica_id,
    seal_commit_phase1,
    seal_pre_commit_phase1,
    seal_proof,
    sealed_cid,
    tree_d_file,
)
from sealer_fsm.registry import simulated_step
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult, Temporary
from sealer_fsm.steps._common import (
    SectorFiles,
    call,
    copy_file_atomically,
    file_errors,
    file_failure,
    manager,
    remove_path,
    sector_id,
    write_file_atomically,
)
from sealer_fsm.units import format_size


async def assign_ticket(ctx: StepContext) -> StepResult:
    """TreeDBuilt → TicketAssigned: the PC1 ticket from the chain (a fresh one once the old one expired)."""
    ticket = await call("AssignTicket", manager(ctx).assign_ticket(sector_id(ctx)))
    return Outcome("AssignTicket", {"ticket": ticket.to_json()})


def replica_id_of(data: Any) -> bytes:
    """The replica id from task data: prover, sector number, ticket, CommD and proof type."""
    ticket = Randomness.from_json(data["ticket"])
    return replica_id(data["miner"], data["number"], ticket.value, bytes.fromhex(data["comm_d"]), data["proof_type"])


def _pc1_inputs(ctx: StepContext) -> dict[str, Any]:
    """The arguments of PC1 from task data; a value PC1 cannot use is Permanent (running again cannot fix it)."""
    try:
        proof = seal_proof(ctx.require("proof_type"))
        if proof.sector_size != ctx.require("sector_size"):
            raise ValueError(
                f"seal proof {proof.id} ({proof.name}) seals {format_size(proof.sector_size)} sectors, not "
                f"{format_size(ctx.require('sector_size'))}"
            )
        ticket = Randomness.from_json(ctx.require("ticket")).value
        comm_d = bytes.fromhex(ctx.require("comm_d"))
        replica_id(ctx.require("miner"), ctx.require("number"), ticket, comm_d, proof.id)  # checks every value
    except (ValueError, TypeError, KeyError) as error:
        raise Permanent(f"PC1: {error}") from error
    return {
        "miner": ctx.require("miner"),
        "sector_number": ctx.require("number"),
        "ticket": ticket,
        "comm_d": comm_d,
        "proof_type": proof.id,
    }


def _free_space(path: Path) -> str:
    """Free space on the file system of `path` (or of its nearest existing parent), for I/O failure messages."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return f"{format_size(shutil.disk_usage(path).free)} free in {path}"


def _run_pc1(files: SectorFiles, inputs: dict[str, Any], cancel: CancelToken) -> PreCommit1:
    remove_path(files.sealed)  # a replica of an earlier PC2 is stale now
    return seal_pre_commit_phase1(files.cache, **inputs, cancel=cancel)


async def pc1(ctx: StepContext) -> StepResult:
    """TicketAssigned → PC1Done: the replica id and every SDR layer, in the sector's cache folder.

    Safe to run again: the layers already complete for the same replica id are kept, so a kill -9 costs at most
    the layer being written. The parent cache is generated on first use, once per graph and host.
    """
    files = SectorFiles.of(ctx)
    inputs = _pc1_inputs(ctx)
    try:
        out = await ctx.run_blocking(_run_pc1, files, inputs, ctx.cancel_token)
    except ValueError as error:  # includes a corrupt parent cache: the operator regenerates it
        raise Permanent(f"PC1: {error}") from error
    except OSError as error:
        where = f"{_free_space(files.cache)}, {_free_space(parent_cache_dir())}"
        raise Temporary(f"PC1: {error.strerror or error} ({where})") from error
    ctx.log.info(
        "%s: PC1 done in %.1f s (%d layers, %.0f labels/s), replica id %s",
        files.name,
        out.seconds,
        len(out.layers),
        out.labels_per_second,
        out.replica_id.hex()[:16],
    )
    return Outcome(
        "PC1",
        {
            "pc1_out": {
                "replica_id": out.replica_id.hex(),
                "proof_type": out.proof_type,
                "layers": [str(path) for path in out.layers],
            }
        },
    )


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


async def pc2(ctx: StepContext) -> StepResult:
    """PC1Done → PC2Done: TreeC and TreeR-last from PC1's layers, the replica in `sealed/`, and CommR.

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
    try:
        out = await ctx.run_blocking(
            precommit_phase2,
            files.cache,
            files.sealed,
            ctx.require("sector_size"),
            files.unsealed,
            cancel=ctx.cancel_token,
        )
    except ValueError as error:
        raise Permanent(f"PC2: {error}") from error
    except OSError as error:
        raise file_failure(error, "PC2", writing=files.sealed) from error
    ctx.log.info("%s: PC2 done, CommR %s", files.name, out.comm_r.hex()[:16])
    data = {
        "comm_r": out.comm_r.hex(),
        "comm_r_cid": sealed_cid(out.comm_r),
        "pc2_out": {"comm_c": out.comm_c.hex(), "comm_r_last": out.comm_r_last.hex()},
    }
    if ctx.sealing.verify_after_pc2:  # the reference's check: C1 with a zero seed must verify
        check = await _commit_phase1(ctx, "PC2 (verify_after_pc2)", bytes(32), out.comm_r)
        ctx.log.info("%s: verify_after_pc2: C1 with a zero seed verifies (%d challenges)", files.name, check.challenges)
    return Outcome("PC2", data)


@simulated_step
async def simulated_pc2(ctx: StepContext) -> StepResult:
    """PC1Done → PC2Done where `[proofs] simulate` names pc2. SIMULATED: CommR from SHA-256 stand-ins for the
    Poseidon trees."""
    files = SectorFiles.of(ctx)
    replica = bytes.fromhex(ctx.require("pc1_out")["replica_id"])
    comm_c, comm_r_last, comm_r = simulated.comm_r(replica, bytes.fromhex(ctx.require("comm_d")))
    await ctx.run_blocking(_write_replica, files, comm_c, comm_r_last)
    ctx.log.info("%s: PC2 simulated, CommR %s", files.name, comm_r.hex()[:16])
    return Outcome("PC2", {"comm_r": comm_r.hex(), "comm_r_cid": sealed_cid(comm_r), "comm_r_simulated": True})


def _commit_inputs(ctx: StepContext, seed: bytes, comm_r: bytes) -> CommitInputs:
    return CommitInputs(
        miner=ctx.require("miner"),
        sector_number=ctx.require("number"),
        ticket=Randomness.from_json(ctx.require("ticket")).value,
        seed=seed,
        comm_d=bytes.fromhex(ctx.require("comm_d")),
        comm_r=comm_r,
        proof_type=ctx.require("proof_type"),
    )


def _prove(files: SectorFiles, inputs: CommitInputs, cancel: CancelToken) -> C1Output:
    """C1 of the sector's files; a sector staged before TreeD was stored (by an earlier version of the tree_d
    step) gets its TreeD from the staged file first."""
    if not tree_d_file(files.cache).is_file() and files.unsealed.is_file():
        build_tree_d(files.cache, seal_proof(inputs.proof_type).sector_size, files.unsealed, cancel=cancel)
    return seal_commit_phase1(files.cache, files.sealed, inputs, cancel=cancel)


async def _commit_phase1(ctx: StepContext, what: str, seed: bytes, comm_r: bytes) -> C1Output:
    """C1 (proved and verified) for a step; bad or corrupt sector files (a proof that does not verify) are
    Permanent, I/O failures classed by `file_failure`."""
    files = SectorFiles.of(ctx)
    if ctx.data.get("comm_r_simulated"):
        raise Permanent(
            f"{what}: this sector's PC2 was simulated, so there are no trees to prove; simulate pc2 again ([proofs] "
            "simulate, which simulates c1 too) or reseal the sector"
        )
    try:
        inputs = _commit_inputs(ctx, seed, comm_r)
        return await ctx.run_blocking(_prove, files, inputs, ctx.cancel_token)
    except (ValueError, KeyError, TypeError) as error:
        raise Permanent(f"{what}: {error}") from error
    except OSError as error:
        raise file_failure(error, what, writing=files.cache) from error


def _save(path: Path, output: C1Output) -> str:
    """Write the C1 JSON (whole or not at all) and return its SHA-256, which C2 commits to."""
    content = c1_output_json(output)
    write_file_atomically(path, content)
    return hashlib.sha256(content).hexdigest()


async def c1(ctx: StepContext) -> StepResult:
    """SeedAssigned → C1Done: the vanilla proofs for the seed's challenges, in the reference's JSON
    (`SealCommitPhase1Output`), written to `cache/<sector>/c1-output.json` and recorded by path as `c1_out`.

    C1 verifies what it built before writing it, as the reference does: sector files that do not give the
    pre-committed CommR are Permanent. Safe to run again: the file is written whole or not at all."""
    seed = Randomness.from_json(ctx.require("seed"))
    started = time.monotonic()
    output = await _commit_phase1(ctx, "C1", seed.value, bytes.fromhex(ctx.require("comm_r")))
    path = SectorFiles.of(ctx).cache / C1_OUTPUT_NAME
    digest = await ctx.run_blocking(_save, path, output)
    seconds = time.monotonic() - started
    ctx.log.info(
        "%s: C1 done in %.2f s (%d challenges, seed epoch %d)", ctx.sector, seconds, output.challenges, seed.epoch
    )
    c1_out = {
        "path": str(path),
        "sha256": digest,
        "registered_proof": output.registered_proof,
        "challenges": output.challenges,
    }
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


def read_c1_output(c1_out: Any, what: str) -> bytes:
    """The C1 JSON a real C1 recorded in task data, checked against the digest recorded with it (Permanent if
    the file is gone or changed: run C1 again)."""
    path = Path(c1_out["path"])
    with file_errors(f"{what}: read the C1 output {path}"):
        content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != c1_out["sha256"]:
        raise Permanent(f"{what}: the C1 output {path} changed since C1 wrote it; run C1 again")
    return content


@simulated_step
async def c2(ctx: StepContext) -> StepResult:
    """C1Done → C2Done. SIMULATED: a 192-byte blob marked SIMULATED-PROOF, not a Groth16 proof. Of a real C1 it
    carries the C1 output's digest (`simulated.porep_proof_of_c1`), so it proves only those vanilla proofs."""
    c1_out = ctx.require("c1_out")
    if c1_out.get("simulated"):
        proof = simulated.porep_proof(bytes.fromhex(c1_out["digest"]))
    else:
        c1_json = await ctx.run_blocking(read_c1_output, c1_out, "C2")
        proof = simulated.porep_proof_of_c1(c1_json, ctx.require("miner"), ctx.require("number"))
    ctx.log.info("%s: C2 simulated (%d-byte proof)", ctx.sector, len(proof))
    return Outcome("C2", {"proof": simulated.to_text(proof)})

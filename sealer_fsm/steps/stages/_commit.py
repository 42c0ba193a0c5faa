"""The commit stages as processors: C1 (real) and C2 (SIMULATED).

C1 takes the arguments of the reference's `seal_commit_phase1` and writes the vanilla proofs, in the reference's
JSON (`SealCommitPhase1Output`), to `c1-output.json` in the sector's cache folder; its output is what the c1 step
records (`path`, `sha256`, `registered_proof`, `challenges`), so an external c1 child (`sealer-fsm processor
c1`, sharing the sector's folders as PC1 and PC2 children do) hands back the same. It verifies what it built
before writing it, as the reference does.

C2 takes the reference's c2 task, whose `c1out` is the `SealCommitPhase1Output` itself (what a real prover
needs). Built in it is SIMULATED: a 192-byte blob marked SIMULATED-PROOF that commits to the C1 output's JSON
(`simulated.porep_proof_of_c1`), or, for a simulated C1 (`"simulated": true`), the digest expanded. It keeps the
reference's `{"proof": [...]}` shape.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.processors.tasks import (
    miner_of_prover_id,
    read_bytes,
    read_field,
    read_piece_infos,
    read_seal_proof,
)
from sealer_fsm.proofs import (
    C1_OUTPUT_NAME,
    C1FormatError,
    C1Output,
    CancelToken,
    CommitInputs,
    c1_document_json,
    c1_output_json,
    comm_d_from_pieces,
    parse_c1_output,
    seal_commit_phase1,
)
from sealer_fsm.runtime import Permanent
from sealer_fsm.steps._files import file_failure, write_file_atomically
from sealer_fsm.steps.stages._sealing import task_bytes, task_path


def _commit_inputs(task: Any) -> CommitInputs:
    """The C1 inputs of a task; ValueError when its pieces do not give the pre-committed CommD (the reference's
    "pieces and comm_d do not match")."""
    proof = read_seal_proof(task)
    pre_commit = read_field(task, "pre_commit", dict)
    comm_d = read_bytes(read_field(pre_commit, "comm_d", list), "pre_commit.comm_d")
    if comm_d_from_pieces(read_piece_infos(task), proof.sector_size) != comm_d:
        raise ValueError("the pieces do not give the pre-committed CommD")
    return CommitInputs(
        miner=miner_of_prover_id(task_bytes(task, "prover_id")),
        sector_number=read_field(task, "sector_id", int),
        ticket=task_bytes(task, "ticket"),
        seed=task_bytes(task, "seed"),
        comm_d=comm_d,
        comm_r=read_bytes(read_field(pre_commit, "comm_r", list), "pre_commit.comm_r"),
        proof_type=proof.id,
    )


def prove(task: Any, cancel: CancelToken, what: str = "C1") -> C1Output:
    """The C1 output of a c1 task, verified; sector files that do not give the pre-committed values (a proof
    that does not verify) are Permanent, I/O failures classed by `file_failure`. `what` names the caller in
    messages (PC2 runs this with a zero seed under `verify_after_pc2`)."""
    cache = task_path(task, "cache_path")
    try:
        return seal_commit_phase1(cache, task_path(task, "replica_path"), _commit_inputs(task), cancel=cancel)
    except ValueError as error:  # includes TreeInputError: a missing, short or corrupt sector file, named
        raise Permanent(f"{what}: {error}") from error
    except OSError as error:
        raise file_failure(error, what, writing=cache) from error


def c1(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{registered_proof, cache_path, replica_path, prover_id, sector_id, ticket, seed, pre_commit, piece_infos}
    (the arguments of the reference's `seal_commit_phase1`) → {path, sha256, registered_proof, challenges,
    seconds}: the C1 JSON written whole (or not at all) to `<cache_path>/c1-output.json`.

    Safe to run again: the file is replaced whole."""
    started = time.monotonic()
    output = prove(task, cancel)
    path = task_path(task, "cache_path") / C1_OUTPUT_NAME
    content = c1_output_json(output)
    write_file_atomically(path, content)
    return {
        "path": str(path),
        "sha256": hashlib.sha256(content).hexdigest(),
        "registered_proof": output.registered_proof,
        "challenges": output.challenges,
        "seconds": time.monotonic() - started,
    }


def c2(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{c1out, prover_id, sector_id, miner_id} → {proof} (SealCommitPhase2Output). SIMULATED: the proof is a
    blob marked SIMULATED-PROOF committing to the C1 output; an external prover is what makes a real one."""
    c1out = read_field(task, "c1out", dict)
    if c1out.get("simulated") is True:
        return {"proof": list(simulated.porep_proof(bytes.fromhex(read_field(c1out, "digest", str))))}
    c1_json = c1_document_json(c1out)
    try:
        parse_c1_output(c1_json)
    except C1FormatError as error:
        raise Permanent(f"C2: the c1out of the task is not a C1 output: {error}") from error
    miner, number = read_field(task, "miner_id", int), read_field(task, "sector_id", int)
    return {"proof": list(simulated.porep_proof_of_c1(c1_json, miner, number))}

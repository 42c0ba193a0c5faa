"""The sealing stages PC1, PC2, C1 and C2, as processors: reference-shaped task in, output out. SIMULATED.

They compute what the simulated steps computed before they ran through processors (see `sealer_fsm.simulated`):
the real replica id, SHA-256 stand-ins for the Poseidon trees and the vanilla proofs, and a 192-byte blob
marked SIMULATED-PROOF for C2. Files follow the reference: PC1 starts from a clean cache and copies the staged
data to the sealed file (as rust-fil-proofs' PC1 does), PC2 writes the cache's `p_aux`. Outputs carry
`"simulated": true` except C2's, which keeps the reference's `{"proof": [...]}` shape and is recognised by the
SIMULATED-PROOF marker at its start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.files import copy_file_atomically, remove_path
from sealer_fsm.processors._failure import StageFailed
from sealer_fsm.processors.tasks import (
    bytes32,
    read_bytes,
    read_field,
    read_piece_infos,
    seal_proof_id,
    sector_size_of,
)
from sealer_fsm.proofs import CancelToken, comm_d_from_pieces


def _path(task: Any, name: str) -> Path:
    return Path(read_field(task, name, str))


def _replica_id(task: Any, comm_d: bytes) -> bytes:
    registered = read_field(task, "registered_proof", str)
    return simulated.replica_id_of_prover(
        read_bytes(read_field(task, "prover_id", list), "prover_id"),
        read_field(task, "sector_id", int),
        read_bytes(read_field(task, "ticket", list), "ticket"),
        comm_d,
        seal_proof_id(registered),
    )


def pc1(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{registered_proof, cache_path, in_path, out_path, prover_id, sector_id, ticket, piece_infos} → PC1 output."""
    registered = read_field(task, "registered_proof", str)
    comm_d = comm_d_from_pieces(read_piece_infos(task), sector_size_of(registered))
    replica = _replica_id(task, comm_d)
    staged, cache, sealed = _path(task, "in_path"), _path(task, "cache_path"), _path(task, "out_path")
    if not staged.is_file():
        raise StageFailed(f"the staged file {staged} is missing")
    remove_path(cache)
    remove_path(sealed)
    cache.mkdir(parents=True)
    cancel.check("pc1")
    copy_file_atomically(staged, sealed)
    return {"simulated": True, "registered_proof": registered, "replica_id": replica.hex(), "comm_d": bytes32(comm_d)}


def pc2(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{pc1out, cache_dir, sealed_file} → {registered_proof, comm_r, comm_d} (SealPreCommitPhase2Output)."""
    pc1out = read_field(task, "pc1out", dict)
    replica = bytes.fromhex(read_field(pc1out, "replica_id", str))
    comm_d = read_bytes(read_field(pc1out, "comm_d", list), "pc1out.comm_d")
    cache, sealed = _path(task, "cache_dir"), _path(task, "sealed_file")
    if not sealed.is_file():
        raise StageFailed(f"the sealed file {sealed} is missing; run PC1 again")
    comm_c, comm_r_last, comm_r = simulated.comm_r(replica, comm_d)
    cache.mkdir(parents=True, exist_ok=True)
    p_aux = cache / "p_aux"
    temporary = p_aux.with_name("p_aux.tmp")
    temporary.write_bytes(comm_c + comm_r_last)
    temporary.replace(p_aux)
    return {
        "simulated": True,
        "registered_proof": read_field(pc1out, "registered_proof", str),
        "comm_r": bytes32(comm_r),
        "comm_d": bytes32(comm_d),
    }


def c1(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{registered_proof, cache_path, replica_path, prover_id, sector_id, ticket, seed, pre_commit, piece_infos}
    (the arguments of the reference's `seal_commit_phase1`) → C1 output."""
    pre_commit = read_field(task, "pre_commit", dict)
    comm_d = read_bytes(read_field(pre_commit, "comm_d", list), "pre_commit.comm_d")
    comm_r = read_bytes(read_field(pre_commit, "comm_r", list), "pre_commit.comm_r")
    seed = read_bytes(read_field(task, "seed", list), "seed")
    digest = simulated.c1_digest(_replica_id(task, comm_d), comm_r, comm_d, seed)
    return {"simulated": True, "digest": digest.hex()}


def c2(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{c1out, prover_id, sector_id, miner_id} → {proof} (SealCommitPhase2Output), a simulated proof."""
    c1out = read_field(task, "c1out", dict)
    if c1out.get("simulated") is not True:
        raise StageFailed("the built-in C2 is simulated and proves only a simulated C1 output; configure a prover")
    proof = simulated.porep_proof(bytes.fromhex(read_field(c1out, "digest", str)))
    return {"proof": list(proof)}

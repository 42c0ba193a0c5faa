"""What the devnet recomputes to judge a submission: it trusts nothing the worker computed that it can check.

CommD comes from the devnet's own deals (each piece's commitment from the CID it issued, zero pieces elsewhere,
the chain's `compute_unsealed_sector_cid` rule). A real CommR cannot be recomputed at pre-commit time without
sealing the sector again (PC1 and PC2), so the pre-commit check is CommD and a well-formed CommR; the CommR is
bound by the proof: every proof submission comes with the C1 output its simulated C2 commits to, and the devnet
verifies those vanilla proofs (`verify_porep`) against the chain's CommD, CommR, ticket (replica id) and seed, as
a real manager's `VerifySeal` checks a Groth16 proof against the same public values. A sector sealed with a
simulated PC2 is recognised (its CommR is the simulated one for its ticket); its proof and its Snap Deals update
are then checked against the simulated stand-ins; a real update's CommR is bound by the (simulated) update proof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.manager._types import Deal, PreCommitInfo, SnapupProof, SubmitReply, SubmitResult
from sealer_fsm.proofs import (
    FIELD_MODULUS,
    C1FormatError,
    comm_d_from_pieces,
    parse_c1_output,
    parse_piece_cid,
    replica_id,
    verify_porep,
)


def expected_comm_d(deals: list[Deal], sector_size: int) -> bytes:
    return comm_d_from_pieces([(parse_piece_cid(deal.piece_cid), deal.piece_size) for deal in deals], sector_size)


def _replica_id(row: Any, proof_type: int, comm_d: bytes) -> bytes:
    return replica_id(row["miner"], row["number"], bytes.fromhex(row["ticket"]), comm_d, proof_type)


def _comm_r_fault(comm_r: bytes, what: str) -> str | None:
    value = int.from_bytes(comm_r, "little")
    if value == 0 or value >= FIELD_MODULUS:
        return f"{what} {comm_r.hex()} is not a non-zero BLS12-381 field element"
    return None


def precommit_fault(row: Any, proof_type: int | None, deals: list[Deal], info: PreCommitInfo) -> str | None:
    """Why a pre-commit is wrong (a sentence), or None when CommD matches the deals and CommR is well formed."""
    comm_d = expected_comm_d(deals, row["sector_size"])
    if info.comm_d != comm_d:
        return f"CommD {info.comm_d.hex()} does not match the sector's deals (expected {comm_d.hex()})"
    if proof_type is None:
        return f"a {row['sector_size']}-byte sector has no registered seal proof, so no replica id to check"
    return _comm_r_fault(info.comm_r, "CommR")


def porep_fault(row: Any, proof_type: int | None, seed: bytes, submitted: bytes) -> str | None:
    """Why a simulated proof submission fails its check (a sentence), or None when it proves the sector's public
    values (an external prover's proof is judged by `judge_external_proof`).

    A sector sealed for real needs a simulated C2 of a real C1 with that C1 output behind it: the proof must
    commit to the output (its digest) and to the sector, and the output's vanilla proofs must verify against the
    chain's CommD, CommR, ticket and seed. A sector sealed with a simulated PC2 needs the simulated proof of its
    simulated C1."""
    if proof_type is None:
        return f"a {row['sector_size']}-byte sector has no registered seal proof to verify"
    try:
        proof, c1_json = simulated.split_porep_submission(submitted)
    except ValueError as error:
        return str(error)
    comm_d, comm_r = bytes.fromhex(row["comm_d"]), bytes.fromhex(row["comm_r"])
    replica = _replica_id(row, proof_type, comm_d)
    if sealed_with_simulated_pc2(row, proof_type):
        if proof != simulated.porep_proof(simulated.c1_digest(replica, comm_r, comm_d, seed)):
            return "the simulated proof is not the one of this simulated sector's C1"
        return None
    if simulated.c1_digest_of_proof(proof) is None:
        return "a simulated C1 proves nothing about a replica sealed for real; run C1 for real"
    if c1_json is None:
        return "the simulated proof came without the C1 output it commits to"
    if proof != simulated.porep_proof_of_c1(c1_json, row["miner"], row["number"]):
        return "the simulated proof does not commit to the C1 output submitted with it, or is another sector's"
    try:
        output = parse_c1_output(c1_json)
    except C1FormatError as error:
        return f"the C1 output submitted is not one: {error}"
    ticket = bytes.fromhex(row["ticket"])
    verdict = verify_porep(
        output, comm_d=comm_d, comm_r=comm_r, replica_id=replica, seed=seed, proof_type=proof_type, ticket=ticket
    )
    return verdict.reason


# Groth16 proof bytes per partition, and the partitions of each sector size's PoRep (rust-fil-proofs).
GROTH16_PROOF_BYTES = 192
_PARTITIONS = {32 << 30: 10, 64 << 30: 10}
EXTERNAL_PROOF = "proof from an external prover, accepted unverified (the devnet has no Groth16 verifier)"


def judge_external_proof(sector_size: int, proof: bytes) -> SubmitReply:
    """An external prover's proof cannot be verified here; it is accepted, and labelled so, when it has the
    length a real proof of this sector size has."""
    expected = GROTH16_PROOF_BYTES * _PARTITIONS.get(sector_size, 1)
    if len(proof) != expected:
        return SubmitReply(
            SubmitResult.MISMATCHED_SUBMISSION,
            f"an external prover's proof of {len(proof)} bytes; a proof of this sector size has {expected}",
        )
    return SubmitReply(SubmitResult.ACCEPTED, EXTERNAL_PROOF)


def sealed_with_simulated_pc2(row: Any, proof_type: int | None) -> bool:
    """Whether the sector's CommR is the simulated PC2's for its replica (a real CommR never is)."""
    if proof_type is None or row["comm_r"] is None:
        return False
    comm_d = bytes.fromhex(row["comm_d"])
    recorded: str = row["comm_r"]
    return simulated.comm_r(_replica_id(row, proof_type, comm_d), comm_d)[2].hex() == recorded


def snapup_fault(row: Any, proof_type: int | None, deals: list[Deal], proof: SnapupProof) -> str | None:
    comm_d = expected_comm_d(deals, row["sector_size"])
    if proof.comm_d != comm_d:
        return f"CommD {proof.comm_d.hex()} does not match the upgrade's deals (expected {comm_d.hex()})"
    old_comm_r = bytes.fromhex(row["comm_r"])
    if sealed_with_simulated_pc2(row, proof_type):
        if proof.comm_r != simulated.snap_comm_r(old_comm_r, comm_d):
            return "the new CommR does not match the simulated update of this simulated sector"
    elif proof.comm_r == old_comm_r:
        return "the new CommR is the old one: the new data was not encoded"
    elif fault := _comm_r_fault(proof.comm_r, "the new CommR"):
        return fault
    if proof.proof != simulated.snap_proof(row["miner"], row["number"], old_comm_r, proof.comm_r, comm_d):
        return "invalid (simulated) update proof"
    return None


def files_present(store: Path, sector_name: str, kinds: tuple[str, str]) -> bool:
    """Whether a store holds the sector's replica file and its cache directory (e.g. sealed + cache)."""
    replica, cache = kinds
    return (store / replica / sector_name).is_file() and (store / cache / sector_name).is_dir()

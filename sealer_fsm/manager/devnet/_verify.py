"""What the devnet recomputes to judge a submission: it trusts nothing the worker computed.

CommD comes from the devnet's own deals (each piece's commitment from the CID it issued, zero pieces elsewhere,
the chain's `compute_unsealed_sector_cid` rule); CommR and the proofs are the simulated values recomputed from
the ticket and seed the devnet drew itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.manager._types import Deal, PreCommitInfo, SnapupProof
from sealer_fsm.proofs import comm_d_from_pieces, parse_piece_cid, replica_id


def expected_comm_d(deals: list[Deal], sector_size: int) -> bytes:
    return comm_d_from_pieces([(parse_piece_cid(deal.piece_cid), deal.piece_size) for deal in deals], sector_size)


def _replica_id(row: Any, proof_type: int, comm_d: bytes) -> bytes:
    return replica_id(row["miner"], row["number"], bytes.fromhex(row["ticket"]), comm_d, proof_type)


def precommit_fault(row: Any, proof_type: int | None, deals: list[Deal], info: PreCommitInfo) -> str | None:
    """Why a pre-commit is wrong (a sentence), or None when CommD and the simulated CommR check out."""
    comm_d = expected_comm_d(deals, row["sector_size"])
    if info.comm_d != comm_d:
        return f"CommD {info.comm_d.hex()} does not match the sector's deals (expected {comm_d.hex()})"
    if proof_type is None:
        return f"a {row['sector_size']}-byte sector has no registered seal proof, so no replica id to check"
    _, _, comm_r = simulated.comm_r(_replica_id(row, proof_type, comm_d), comm_d)
    if info.comm_r != comm_r:
        return "CommR does not match the simulated replica of this sector and ticket"
    return None


def expected_porep_proof(row: Any, proof_type: int | None, seed: bytes) -> bytes | None:
    """The simulated proof an honest worker submits (None when the sector has no registered seal proof)."""
    if proof_type is None:
        return None
    comm_d, comm_r = bytes.fromhex(row["comm_d"]), bytes.fromhex(row["comm_r"])
    return simulated.porep_proof(simulated.c1_digest(_replica_id(row, proof_type, comm_d), comm_r, comm_d, seed))


def snapup_fault(row: Any, deals: list[Deal], proof: SnapupProof) -> str | None:
    comm_d = expected_comm_d(deals, row["sector_size"])
    if proof.comm_d != comm_d:
        return f"CommD {proof.comm_d.hex()} does not match the upgrade's deals (expected {comm_d.hex()})"
    old_comm_r = bytes.fromhex(row["comm_r"])
    if proof.comm_r != simulated.snap_comm_r(old_comm_r, comm_d):
        return "the new CommR does not match the simulated update of this sector"
    if proof.proof != simulated.snap_proof(row["miner"], row["number"], old_comm_r, proof.comm_r, comm_d):
        return "invalid (simulated) update proof"
    return None


def files_present(store: Path, sector_name: str, kinds: tuple[str, str]) -> bool:
    """Whether a store holds the sector's replica file and its cache directory (e.g. sealed + cache)."""
    replica, cache = kinds
    return (store / replica / sector_name).is_file() and (store / cache / sector_name).is_dir()

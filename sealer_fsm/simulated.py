"""The simulated proofs: what C1, C2 and the snap proof produce where the real algorithms are out of reach (and
PC1, PC2 and the snap encoding on a machine that asks for it in `[proofs] simulate`, or on a sector sealed so).

C1 is not available yet, and Groth16 proofs (C2, snap prove) need trusted-setup parameters no one can have here
(reference-proofs.md sections 0 and 5). These stand-ins are deterministic, cheap,
bound to every input the real proof commits to, and verifiable by recomputation, so the devnet manager can reject
a wrong one. They are labelled `simulated` wherever a user sees them: blobs carry a `SIMULATED` marker and are
stored in task data as text starting with `simulated:`. Nothing here is a Filecoin proof.
"""

from __future__ import annotations

import hashlib

from sealer_fsm.proofs import hash_node, prover_id

TEXT_PREFIX = "simulated:"
PROOF_MARKER = b"SIMULATED-PROOF-v1"
PROOF_LENGTH = 192  # the real single-partition Groth16 proof length (SINGLE_PARTITION_PROOF_LEN)


def _trunc254(digest: bytes) -> bytes:
    """A SHA-256 digest made a valid field element, as Filecoin does (clear the top two bits)."""
    return digest[:31] + bytes([digest[31] & 0x3F])


def _digest(domain: bytes, *parts: bytes) -> bytes:
    hasher = hashlib.sha256(domain)
    for part in parts:
        hasher.update(len(part).to_bytes(4, "little"))
        hasher.update(part)
    return hasher.digest()


def comm_r(replica: bytes, comm_d: bytes) -> tuple[bytes, bytes, bytes]:
    """Simulated (comm_c, comm_r_last, comm_r): SHA-256 stand-ins for the Poseidon trees of PC2.

    comm_r = H(comm_c ‖ comm_r_last) keeps the reference's shape, so the p_aux file PC2 writes looks like the
    real one; the values themselves are not Filecoin's.
    """
    comm_c = _trunc254(_digest(b"simulated comm_c", replica))
    comm_r_last = _trunc254(_digest(b"simulated comm_r_last", replica, comm_d))
    return comm_c, comm_r_last, hash_node(comm_c, comm_r_last)


def c1_digest(replica: bytes, comm_r_value: bytes, comm_d: bytes, seed: bytes) -> bytes:
    """Simulated C1 output: one digest standing for the vanilla proofs over the seed's challenges."""
    return _digest(b"simulated c1", replica, comm_r_value, comm_d, seed)


def porep_proof(c1: bytes) -> bytes:
    """Simulated C2: a PROOF_LENGTH blob starting with PROOF_MARKER, expanded from the C1 digest."""
    return _expand(b"porep", c1)


def snap_comm_r(old_comm_r: bytes, new_comm_d: bytes) -> bytes:
    """Simulated CommR of the updated replica (the real one re-encodes the sector with the new data)."""
    return _trunc254(_digest(b"simulated snap comm_r", old_comm_r, new_comm_d))


def snap_proof(miner: int, number: int, old_comm_r: bytes, new_comm_r: bytes, new_comm_d: bytes) -> bytes:
    """Simulated empty-sector-update proof, bound to the sector and its old and new commitments."""
    seed = _digest(
        b"simulated snap proof", prover_id(miner), number.to_bytes(8, "big"), old_comm_r, new_comm_r, new_comm_d
    )
    return _expand(b"snap", seed)


def _expand(kind: bytes, seed: bytes) -> bytes:
    blob = bytearray(PROOF_MARKER)
    counter = 0
    while len(blob) < PROOF_LENGTH:
        blob += hashlib.sha256(kind + seed + counter.to_bytes(4, "little")).digest()
        counter += 1
    return bytes(blob[:PROOF_LENGTH])


def to_text(blob: bytes) -> str:
    """How a simulated blob is stored in task data and shown: `simulated:<hex>`."""
    return TEXT_PREFIX + blob.hex()


def from_text(text: str) -> bytes:
    """The blob behind `to_text`; ValueError when the text is not a simulated blob."""
    if not text.startswith(TEXT_PREFIX):
        raise ValueError(f"not a simulated blob: {text[:24]!r}...")
    return bytes.fromhex(text[len(TEXT_PREFIX) :])

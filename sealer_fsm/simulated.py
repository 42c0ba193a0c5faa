"""The simulated proofs: what C2 and the snap proof produce where the real algorithms are out of reach (and PC1,
PC2, C1 and the snap encoding on a machine that asks for it in `[proofs] simulate`, or on a sector sealed so).

Groth16 proofs (C2, snap prove) need trusted-setup parameters no one can have here (reference-proofs.md sections 0
and 5). These stand-ins are deterministic, cheap, bound to every input the real proof commits to, and verifiable
by recomputation, so the devnet manager can reject a wrong one. They are labelled `simulated` wherever a user sees
them: blobs carry a `SIMULATED` marker and are stored in task data as text starting with `simulated:`. Nothing
here is a Filecoin proof.

A simulated C2 of a real C1 (`porep_proof_of_c1`, marker `SIMULATED-PROOF-v2`) carries the SHA-256 of the C1
output's JSON, as a real SNARK commits to the vanilla proofs it was computed from; the proof is submitted with
that JSON behind it (`porep_submission`), so the devnet verifies the vanilla proofs and checks the digest. A
simulated C2 of a simulated C1 (`porep_proof`, marker `SIMULATED-PROOF-v1`) is the digest expanded.
"""

from __future__ import annotations

import hashlib
import zlib

from sealer_fsm.proofs import MAX_C1_BYTES, hash_node, prover_id

TEXT_PREFIX = "simulated:"
PROOF_MARKER = b"SIMULATED-PROOF-v1"
C1_PROOF_MARKER = b"SIMULATED-PROOF-v2"
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


def porep_proof_of_c1(c1_json: bytes, miner: int, number: int) -> bytes:
    """Simulated C2 of a real C1 output (its JSON): C1_PROOF_MARKER, the JSON's SHA-256, then an expansion over
    the digest and the prover and sector ids the real C2 also takes."""
    digest = hashlib.sha256(c1_json).digest()
    tail = _expand(b"porep-of-c1", _digest(b"simulated c2", digest, prover_id(miner), number.to_bytes(8, "big")))
    return (C1_PROOF_MARKER + digest + tail[len(PROOF_MARKER) :])[:PROOF_LENGTH]


def c1_digest_of_proof(proof: bytes) -> bytes | None:
    """The C1 output digest a `porep_proof_of_c1` blob carries (None for any other blob)."""
    if len(proof) != PROOF_LENGTH or not proof.startswith(C1_PROOF_MARKER):
        return None
    return proof[len(C1_PROOF_MARKER) : len(C1_PROOF_MARKER) + 32]


def porep_submission(proof: bytes, c1_json: bytes) -> bytes:
    """What a worker submits for a simulated C2 of a real C1: the 192-byte proof, then the C1 JSON it commits
    to (zlib-compressed), for the devnet to verify."""
    return proof + zlib.compress(c1_json)


def proof_of_submission(submitted: bytes) -> bytes:
    """The proof part of a submission (the 192-byte proof of a `porep_submission`, else all of it)."""
    return submitted[:PROOF_LENGTH] if c1_digest_of_proof(submitted[:PROOF_LENGTH]) is not None else submitted


def split_porep_submission(submitted: bytes) -> tuple[bytes, bytes | None]:
    """(proof, C1 JSON) of a `porep_submission`; (submitted, None) for a submission of a proof alone.
    ValueError when the part after the proof is not zlib data."""
    if c1_digest_of_proof(submitted[:PROOF_LENGTH]) is None or len(submitted) == PROOF_LENGTH:
        return submitted, None
    inflater = zlib.decompressobj()
    try:
        c1_json = inflater.decompress(submitted[PROOF_LENGTH:], MAX_C1_BYTES + 1)
    except zlib.error as error:
        raise ValueError(f"the C1 output submitted with the proof is not zlib data ({error})") from None
    if len(c1_json) > MAX_C1_BYTES or inflater.unconsumed_tail:
        raise ValueError("the C1 output submitted with the proof is larger than any C1 output")
    if not inflater.eof:
        raise ValueError("the C1 output submitted with the proof is cut short")
    return submitted[:PROOF_LENGTH], c1_json


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


def is_simulated(blob: bytes) -> bool:
    """Whether a proof is one of these stand-ins (it starts with a SIMULATED-PROOF marker)."""
    return blob.startswith((PROOF_MARKER, C1_PROOF_MARKER))


def to_text(blob: bytes) -> str:
    """How a simulated blob is stored in task data and shown: `simulated:<hex>`."""
    return TEXT_PREFIX + blob.hex()


def from_text(text: str) -> bytes:
    """The blob behind `to_text`; ValueError when the text is not a simulated blob."""
    if not text.startswith(TEXT_PREFIX):
        raise ValueError(f"not a simulated blob: {text[:24]!r}...")
    return bytes.fromhex(text[len(TEXT_PREFIX) :])

"""The registered seal proofs of Filecoin and what PC1 derives from them: porep id, prover id, replica id.

The table is rust-filecoin-proofs-api's `RegisteredSealProof` (ids 0-19) with rust-fil-proofs' layer counts
(`filecoin-proofs/src/constants.rs`); reference-proofs.md §3.1-3.2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sealer_fsm.units import format_size

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
SECTOR_SIZES = (2 * KIB, 8 * MIB, 512 * MIB, 32 * GIB, 64 * GIB)  # in the order of the proof ids
API_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
_FAMILIES = (  # (first id, name suffix, API version), five sizes each
    (0, "V1", "1.0.0"),
    (5, "V1_1", "1.1.0"),
    (10, "V1_1_Feat_SyntheticPoRep", "1.2.0"),  # the name says 1_1; the API version is 1.2.0
    (15, "V1_2_Feat_NonInteractivePoRep", "1.2.0"),
)
_NAME_SIZES = {2 * KIB: "2KiB", 8 * MIB: "8MiB", 512 * MIB: "512MiB", 32 * GIB: "32GiB", 64 * GIB: "64GiB"}


@dataclass(frozen=True)
class SealProof:
    """One registered seal proof: its id, sector size and the API version that fixes its graph's layout."""

    id: int
    sector_size: int
    api_version: str
    name: str

    @property
    def nodes(self) -> int:
        return self.sector_size // 32

    @property
    def layers(self) -> int:
        """SDR layers: 11 for 32GiB and 64GiB sectors, 2 for the smaller test sizes."""
        return 11 if self.sector_size >= 32 * GIB else 2

    @property
    def porep_id(self) -> bytes:
        return porep_id(self.id)


SEAL_PROOFS = {
    first + index: SealProof(first + index, size, api_version, f"StackedDrg{_NAME_SIZES[size]}{suffix}")
    for first, suffix, api_version in _FAMILIES
    for index, size in enumerate(SECTOR_SIZES)
}


def seal_proof(proof_type: int) -> SealProof:
    """The registered proof with this id; ValueError naming the id otherwise."""
    if isinstance(proof_type, bool) or not isinstance(proof_type, int) or proof_type not in SEAL_PROOFS:
        raise ValueError(f"seal proof type {proof_type!r} is not registered (registered ids are 0 to 19)")
    return SEAL_PROOFS[proof_type]


def default_proof_type(sector_size: int) -> int:
    """The V1_1 proof id of a sector size (2KiB → 5 ... 64GiB → 9), what the network seals with today."""
    if sector_size not in SECTOR_SIZES:
        sizes = ", ".join(format_size(size) for size in SECTOR_SIZES)
        raise ValueError(f"sector size {sector_size} has no registered seal proof (sizes: {sizes})")
    return 5 + SECTOR_SIZES.index(sector_size)


def porep_id(proof_type: int) -> bytes:
    """The 32-byte porep id: the proof id (u64 LE), the nonce 0 (u64 LE), 16 zero bytes."""
    return seal_proof(proof_type).id.to_bytes(8, "little") + bytes(24)


def prover_id(miner: int) -> bytes:
    """The miner actor id as Filecoin's prover id: its unsigned varint, zero-padded to 32 bytes."""
    _check_u64(miner, "miner id")
    encoded = bytearray()
    value = miner
    while True:
        byte = value & 0x7F
        value >>= 7
        encoded.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(encoded).ljust(32, b"\0")


def replica_id(miner: int, sector_number: int, ticket: bytes, comm_d: bytes, proof_type: int) -> bytes:
    """SHA-256(prover id ‖ sector number u64 BE ‖ ticket ‖ CommD ‖ porep id), top two bits cleared."""
    _check_u64(sector_number, "sector number")
    for value, what in ((ticket, "ticket"), (comm_d, "CommD")):
        if not isinstance(value, bytes | bytearray) or len(value) != 32:
            shown = f"{len(value)} bytes" if isinstance(value, bytes | bytearray) else repr(value)
            raise ValueError(f"the {what} must be 32 bytes, got {shown}")
    message = prover_id(miner) + sector_number.to_bytes(8, "big") + ticket + comm_d + porep_id(proof_type)
    digest = hashlib.sha256(message).digest()
    return digest[:31] + bytes([digest[31] & 0x3F])


def _check_u64(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ValueError(f"the {what} must be an integer from 0 to 2^64-1, got {value!r}")

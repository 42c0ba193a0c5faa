"""Node-wise encodings of a sector: PC2's (replica = data + key) and Snap Deals' (replica = key + data·rho).

Both work on whole 32-byte nodes (little-endian field elements) and have exact inverses, which the unseal plan
uses to read a deal's data back: `decode(encode(d, k), k) == d` and the same for the snap pair. The snap
functions take the node index of their first node (`first_node`), so a range of a sector can be decoded alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sealer_fsm.proofs._poseidon_api import extension, poseidon

_ADD, _SUBTRACT, _SNAP_ENCODE, _SNAP_DECODE = range(4)
SNAP_TAG = ("custom", 1)
"""neptune `HashType::Custom(CType::Arbitrary(1))`: storage-proofs-update's "gen randomness" tag for phi and rho."""


def encode(data: bytes, key: bytes) -> bytes:
    """The PC2 replica of `data` under `key` (the last SDR layer): node i = data i + key i mod p."""
    return bytes(extension().nodes(_ADD, data, key, b"", 0, 0))


def decode(replica: bytes, key: bytes) -> bytes:
    """The data of a PC2 replica: node i = replica i - key i mod p."""
    return bytes(extension().nodes(_SUBTRACT, replica, key, b"", 0, 0))


def snap_h(nodes: int) -> int:
    """High bits of the node index that select rho: 1 up to 32KiB sectors, else 10 (`h_default`)."""
    return 1 if nodes <= 1 << 10 else 10


def snap_phi(comm_d_new: bytes, comm_r_old: bytes) -> bytes:
    """phi = Poseidon-Custom(1)(comm_d_new, comm_r_old)."""
    return poseidon([comm_d_new, comm_r_old], SNAP_TAG)


@dataclass(frozen=True)
class RhoTable:
    """rho(high) for every high-bit value of a sector, in the C code's Montgomery form (or their inverses)."""

    table: bytes
    shift: int


@lru_cache(maxsize=8)
def rho_table(phi: bytes, nodes: int, inverse: bool = False) -> RhoTable:
    """rho(high) = Poseidon-Custom(1)(phi, high) for high < 2^h, as the C code wants them (high = i >> shift)."""
    if nodes < 2 or nodes & (nodes - 1):
        raise ValueError(f"a sector has a power-of-two number of nodes, got {nodes}")
    h = snap_h(nodes)
    rhos = b"".join(poseidon([phi, high.to_bytes(32, "little")], SNAP_TAG) for high in range(1 << h))
    return RhoTable(bytes(extension().montgomery(rhos, inverse)), nodes.bit_length() - 1 - h)


def snap_encode(
    sector_key: bytes, data: bytes, *, comm_d_new: bytes, comm_r_old: bytes, nodes: int, first_node: int = 0
) -> bytes:
    """The updated replica: node i = key i + data i · rho(i) mod p (storage-proofs-update `encode_into`)."""
    _check_range(len(sector_key), first_node, nodes)
    rhos = rho_table(snap_phi(comm_d_new, comm_r_old), nodes)
    return bytes(extension().nodes(_SNAP_ENCODE, data, sector_key, rhos.table, rhos.shift, first_node))


def snap_decode(
    replica: bytes, sector_key: bytes, *, comm_d_new: bytes, comm_r_old: bytes, nodes: int, first_node: int = 0
) -> bytes:
    """The new data of an updated replica: node i = (replica i - key i) · rho(i)^-1 mod p (`decode_from`)."""
    _check_range(len(replica), first_node, nodes)
    rhos = rho_table(snap_phi(comm_d_new, comm_r_old), nodes, inverse=True)
    return bytes(extension().nodes(_SNAP_DECODE, replica, sector_key, rhos.table, rhos.shift, first_node))


def _check_range(length: int, first_node: int, nodes: int) -> None:
    count = length // 32
    if first_node < 0 or first_node + count > nodes:
        raise ValueError(f"nodes {first_node}..{first_node + count - 1} are outside a sector of {nodes} nodes")

"""Which nodes C1 proves: the PoRep challenges of a seal proof and the graph parents of a challenged node.

Counts are rust-fil-proofs' (`filecoin-proofs/src/constants.rs`, `parameters.rs::select_challenges`): an
interactive PoRep (proof ids 0-9) has 1 partition of 2 challenges below 32GiB and 10 partitions of 18 (176 rounded
up) at 32GiB and 64GiB; a non-interactive one (ids 15-19) 13 partitions of 2, or 126 of 18 (2253 rounded up).
Challenge j of partition k (j = k·per_partition + i) is `LE(SHA-256(replica_id ‖ seed ‖ u32_le(j))) mod
(nodes - 1) + 1` (`challenges.rs`); the non-interactive one hashes a tag and CommR instead of the seed.
Synthetic PoRep (ids 10-14) draws its challenges from proofs PC2 writes ahead, which this worker does not write.

Parents are computed node by node (six ChaCha8 draws and eight Feistel permutations: microseconds), so a
verifier needs no parent cache; the tests hold them to the parent-cache rows the C code generates.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from sealer_fsm.proofs import _sdr_reference as graph
from sealer_fsm.proofs._seal_proofs import GIB, SealProof

BASE_DEGREE = graph.BASE_DEGREE
EXPANSION_DEGREE = graph.EXPANSION_DEGREE
TOTAL_PARENTS = 37  # parent labels hashed per label: the parents repeated to 37 (storage-proofs-porep)
NI_TAG = b"filecoin.io|PoRep|1|NonInteractive|1"
_SYNTHETIC_IDS = range(10, 15)
_NON_INTERACTIVE_IDS = range(15, 20)


@dataclass(frozen=True)
class ChallengeCounts:
    """How many partitions a seal proof's C1 has, and how many challenges each."""

    partitions: int
    per_partition: int
    interactive: bool

    @property
    def total(self) -> int:
        return self.partitions * self.per_partition


def challenge_counts(proof: SealProof) -> ChallengeCounts:
    """The reference's counts for `proof`; ValueError for synthetic PoRep, whose C1 is not supported here."""
    if proof.id in _SYNTHETIC_IDS:
        raise ValueError(
            f"C1 of {proof.name} (synthetic PoRep, proof ids 10-14) reads the synthetic proofs PC2 writes ahead, "
            "which this worker does not write; seal with the V1_1 proof of the size instead"
        )
    large = proof.sector_size >= 32 * GIB
    if proof.id in _NON_INTERACTIVE_IDS:
        partitions, minimum = (126, 2253) if large else (13, 26)
        return ChallengeCounts(partitions, -(-minimum // partitions), interactive=False)
    partitions, minimum = (10, 176) if large else (1, 2)
    return ChallengeCounts(partitions, -(-minimum // partitions), interactive=True)


def porep_challenges(proof: SealProof, replica_id: bytes, seed: bytes, comm_r: bytes) -> list[list[int]]:
    """The challenged nodes of each partition, in order (the seed is ignored by a non-interactive proof)."""
    counts = challenge_counts(proof)
    prefix = hashlib.sha256(replica_id + seed if counts.interactive else NI_TAG + replica_id + comm_r)
    challenges = []
    for partition in range(counts.partitions):
        row = []
        for index in range(counts.per_partition):
            digest = prefix.copy()
            digest.update(struct.pack("<I", partition * counts.per_partition + index))
            row.append(int.from_bytes(digest.digest(), "little") % (proof.nodes - 1) + 1)
        challenges.append(row)
    return challenges


@lru_cache(maxsize=64)
def _graph_keys(porep_id: bytes) -> tuple[bytes, tuple[int, int, int, int]]:
    return graph.drg_seed(porep_id), graph.feistel_keys(porep_id)


def node_parents(proof: SealProof, node: int) -> tuple[list[int], list[int]]:
    """The six DRG parents (same layer) and eight expander parents (previous layer) of `node`, in the order
    the parent cache stores them for this proof's API version."""
    seed, keys = _graph_keys(proof.porep_id)
    return (
        graph.drg_parents(seed, node, proof.api_version),
        graph.expander_parents(keys, proof.nodes, node, proof.api_version),
    )


def labeling_parents(layer: int, drg: list[bytes], expander: list[bytes]) -> list[bytes]:
    """The 37 parent labels a node's label hashes: layer 1 its six DRG parents' labels repeated, a later layer
    those and its eight expander parents' labels (of the previous layer) repeated."""
    parents = drg if layer == 1 else drg + expander
    return [parents[index % len(parents)] for index in range(TOTAL_PARENTS)]


def label(replica_id: bytes, layer: int, node: int, parents: list[bytes]) -> bytes:
    """A node's label from its parents' labels (`create_label`): SHA-256, top two bits cleared."""
    digest = hashlib.sha256(replica_id + struct.pack(">IQ", layer, node) + bytes(20) + b"".join(parents)).digest()
    return digest[:31] + bytes((digest[31] & 0x3F,))

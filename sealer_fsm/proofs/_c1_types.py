"""The C1 output, as rust-filecoin-proofs-api's `SealCommitPhase1Output` holds it.

One `ChallengeProof` per challenge (rust-fil-proofs' `stacked::Proof`, called `VanillaSealProof`): the data node's
TreeD inclusion proof, the replica node's TreeR-last inclusion proof, the columns of the node and of its 6 DRG and 8
expander parents with their TreeC inclusion proofs, one labeling proof per layer and the encoding proof. Field
elements are their 32-byte little-endian representation, as the Rust `Domain` types store them. How these map
to JSON is `_c1_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ProofKind(Enum):
    """merkletree's proof shapes (`ProofData`): a single tree, base trees under one sub-tree node, or sub-trees
    under a top node (32GiB is Sub, 64GiB Top, the smaller registered sizes Single)."""

    SINGLE = "Single"
    SUB = "Sub"
    TOP = "Top"


@dataclass(frozen=True)
class PathElement:
    """One level of an inclusion path: the other children of the node's parent, and the node's position."""

    hashes: tuple[bytes, ...]
    index: int


@dataclass(frozen=True)
class MerkleProof:
    """An inclusion proof (`MerkleProof`): `base` levels from the leaf up, then for a Sub proof one sub-tree
    level and for a Top proof one more top level."""

    kind: ProofKind
    root: bytes
    leaf: bytes
    base: tuple[PathElement, ...]
    sub: tuple[PathElement, ...] = ()
    top: tuple[PathElement, ...] = ()

    @property
    def levels(self) -> tuple[PathElement, ...]:
        return self.base + self.sub + self.top


@dataclass(frozen=True)
class Column:
    """The labels of node `index` in every layer, first layer first (`Column`)."""

    index: int
    rows: tuple[bytes, ...]


@dataclass(frozen=True)
class ColumnProof:
    """A column and its TreeC inclusion proof (`ColumnProof`)."""

    column: Column
    inclusion_proof: MerkleProof


@dataclass(frozen=True)
class LabelingProof:
    """What recomputes the label of `node` in layer `layer_index`: its 37 parent labels (`LabelingProof`). The
    encoding proof (`EncodingProof`) has the same fields, for the last layer, whose label is the encoding key."""

    parents: tuple[bytes, ...]
    layer_index: int
    node: int


@dataclass(frozen=True)
class ChallengeProof:
    """The vanilla proof of one challenged node (`stacked::Proof`)."""

    comm_d_proofs: MerkleProof
    comm_r_last_proof: MerkleProof
    c_x: ColumnProof
    drg_parents: tuple[ColumnProof, ...]
    exp_parents: tuple[ColumnProof, ...]
    labeling_proofs: tuple[LabelingProof, ...]
    encoding_proof: LabelingProof


@dataclass(frozen=True)
class C1Output:
    """`SealCommitPhase1Output`: the vanilla proofs of every partition and the public values they prove."""

    registered_proof: str
    vanilla_proofs: tuple[tuple[ChallengeProof, ...], ...]
    comm_r: bytes
    comm_d: bytes
    replica_id: bytes
    seed: bytes
    ticket: bytes

    @property
    def challenges(self) -> int:
        return sum(len(partition) for partition in self.vanilla_proofs)

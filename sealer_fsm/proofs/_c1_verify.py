"""Checking a C1 output against a sector's public values alone: CommD, CommR, replica id and seed.

It checks what rust-fil-proofs' `StackedDrg::verify_all_partitions` checks (CommR = H(comm_c, comm_r_last) from
the proofs' roots, each challenge derived from the seed, every inclusion proof opening its node and hashing up to
its root, the labels recomputed from their parents, the replica node = data node + key), and also what the
Groth16 circuit binds and the vanilla verifier leaves to it: the labeling proofs' parents are the labels in the
parents' columns, the encoding key is the last layer's label, and every path has the length and arity of the
sector's trees. No sector file is read; the graph parents of each challenge are computed on the spot.

The answer is a value: valid, or the first fault as one sentence naming the partition, challenge and proof.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sealer_fsm.proofs._c1_json import proof_named
from sealer_fsm.proofs._c1_types import C1Output, ChallengeProof, ColumnProof, MerkleProof, ProofKind
from sealer_fsm.proofs._challenges import (
    BASE_DEGREE,
    EXPANSION_DEGREE,
    challenge_counts,
    label,
    labeling_parents,
    node_parents,
    porep_challenges,
)
from sealer_fsm.proofs._encoding import encode
from sealer_fsm.proofs._layout import BASE_ARITY, SectorShape, tree_row_count
from sealer_fsm.proofs._poseidon_api import hash2, poseidon
from sealer_fsm.proofs._reference import hash_node
from sealer_fsm.proofs._seal_proofs import SealProof


@dataclass(frozen=True)
class PorepVerdict:
    """Whether a C1 output proves the sector's values; `reason` says what failed when it does not."""

    valid: bool
    reason: str | None = None
    challenges: int = 0

    def __bool__(self) -> bool:
        return self.valid


class _Invalid(Exception):
    """The first fault found, as a sentence."""


def verify_porep(
    output: C1Output,
    *,
    comm_d: bytes,
    comm_r: bytes,
    replica_id: bytes,
    seed: bytes,
    proof_type: int | None = None,
    ticket: bytes | None = None,
) -> PorepVerdict:
    """Check `output` against the sector's CommD, CommR, replica id and seed (and, when given, its registered
    proof id and ticket)."""
    try:
        _verify(output, comm_d, comm_r, replica_id, seed, proof_type, ticket)
    except _Invalid as fault:
        return PorepVerdict(False, str(fault))
    return PorepVerdict(True, None, output.challenges)


def _verify(
    output: C1Output,
    comm_d: bytes,
    comm_r: bytes,
    replica_id: bytes,
    seed: bytes,
    proof_type: int | None,
    ticket: bytes | None,
) -> None:
    try:
        proof = proof_named(output.registered_proof)
        counts = challenge_counts(proof)
    except ValueError as error:
        raise _Invalid(str(error)) from None
    if proof_type is not None and proof.id != proof_type:
        raise _Invalid(f"the C1 output proves a {proof.name} sector, not this sector's proof type {proof_type}")
    expected = {
        "replica id": (output.replica_id, replica_id),
        "CommD": (output.comm_d, comm_d),
        "CommR": (output.comm_r, comm_r),
    }
    if counts.interactive:
        expected["seed"] = (output.seed, seed)
    if ticket is not None:
        expected["ticket"] = (output.ticket, ticket)
    for what, (theirs, ours) in expected.items():
        if theirs != ours:
            raise _Invalid(f"the C1 output is for {what} {theirs.hex()}, not this sector's {ours.hex()}")
    if len(output.vanilla_proofs) != counts.partitions:
        raise _Invalid(
            f"the C1 output holds {len(output.vanilla_proofs)} partitions; {proof.name} has {counts.partitions}"
        )
    for index, partition in enumerate(output.vanilla_proofs):
        if len(partition) != counts.per_partition:
            raise _Invalid(
                f"partition {index} holds {len(partition)} challenge proofs; {proof.name} has {counts.per_partition}"
            )
    first = output.vanilla_proofs[0][0]
    comm_c, comm_r_last = first.c_x.inclusion_proof.root, first.comm_r_last_proof.root
    derived = _hashed(partial(hash2, comm_c, comm_r_last), "comm_c or comm_r_last")
    if derived != comm_r:
        raise _Invalid(f"the proofs' comm_c and comm_r_last hash to {derived.hex()}, not to CommR {comm_r.hex()}")
    checker = _ChallengeChecker(proof, replica_id, comm_d, comm_c, comm_r_last)
    challenges = porep_challenges(proof, replica_id, seed, comm_r)
    for k, (partition, nodes) in enumerate(zip(output.vanilla_proofs, challenges, strict=True)):
        for i, (challenge_proof, node) in enumerate(zip(partition, nodes, strict=True)):
            try:
                checker.check(challenge_proof, node)
            except _Invalid as fault:
                raise _Invalid(f"partition {k}, challenge {i} (node {node}): {fault}") from None


def _hashed(compute: Callable[[], bytes], what: str) -> bytes:
    """Run a field computation (Poseidon, the encoding); an input that is not a field element is a fault."""
    try:
        return compute()
    except ValueError as error:
        raise _Invalid(f"{what}: {error}") from None


class _ChallengeChecker:
    def __init__(self, proof: SealProof, replica_id: bytes, comm_d: bytes, comm_c: bytes, comm_r_last: bytes) -> None:
        self.proof, self.replica_id = proof, replica_id
        self.comm_d, self.comm_c, self.comm_r_last = comm_d, comm_c, comm_r_last
        self.shape = SectorShape.of(proof.sector_size)
        self.kind = ProofKind.SINGLE
        if self.shape.sub_arity:
            self.kind = ProofKind.TOP if self.shape.top_arity else ProofKind.SUB

    def check(self, proof: ChallengeProof, node: int) -> None:
        self.check_data_path(proof.comm_d_proofs, node)
        self.check_column(proof.c_x, node, "the challenged node's column")
        drg, expander = node_parents(self.proof, node)
        for kind, columns, parents, degree in (
            ("DRG", proof.drg_parents, drg, BASE_DEGREE),
            ("expander", proof.exp_parents, expander, EXPANSION_DEGREE),
        ):
            if len(columns) != degree:
                raise _Invalid(f"{len(columns)} {kind} parent columns; a node has {degree}")
            for number, (column, parent) in enumerate(zip(columns, parents, strict=True)):
                if column.column.index != parent:
                    raise _Invalid(
                        f"{kind} parent {number} opens the column of node {column.column.index}, but the graph "
                        f"gives node {parent}"
                    )
                self.check_column(column, parent, f"the column of {kind} parent {number} (node {parent})")
        self.check_tree_path(proof.comm_r_last_proof, node, self.comm_r_last, "the TreeR-last inclusion proof")
        self.check_labels(proof, node)

    def check_data_path(self, proof: MerkleProof, node: int) -> None:
        what = "the TreeD inclusion proof"
        height = self.proof.nodes.bit_length() - 1
        if proof.kind is not ProofKind.SINGLE or proof.sub or proof.top or len(proof.base) != height:
            raise _Invalid(f"{what} is not a single binary path of {height} levels")
        computed, position = proof.leaf, 0
        for level, element in enumerate(proof.base):
            if len(element.hashes) != 1 or element.index not in (0, 1):
                raise _Invalid(f"{what} has a level ({level}) that is not one sibling at position 0 or 1")
            position |= element.index << level
            sibling = element.hashes[0]
            computed = hash_node(sibling, computed) if element.index else hash_node(computed, sibling)
        self.check_opening(what, position, node, proof.root, self.comm_d, "CommD", computed)

    def check_column(self, column: ColumnProof, node: int, what: str) -> None:
        if column.column.index != node:
            raise _Invalid(f"{what} is the column of node {column.column.index}")
        if len(column.column.rows) != self.proof.layers:
            raise _Invalid(f"{what} has {len(column.column.rows)} rows; a column has {self.proof.layers} layers")
        inclusion = column.inclusion_proof
        column_hash = _hashed(partial(poseidon, column.column.rows), what)
        if inclusion.leaf != column_hash:
            raise _Invalid(f"the TreeC leaf of {what} is not the hash of that column")
        self.check_tree_path(inclusion, node, self.comm_c, f"the TreeC inclusion proof of {what}")

    def check_tree_path(self, proof: MerkleProof, node: int, root: bytes, what: str) -> None:
        """An 8-ary Poseidon path of the sector's shape (base levels, then its sub and top levels)."""
        shape = self.shape
        parts = [(proof.base, BASE_ARITY, tree_row_count(shape.base_leaves) - 1)]
        if shape.sub_arity:
            parts.append((proof.sub, shape.sub_arity, 1))
        if shape.top_arity:
            parts.append((proof.top, shape.top_arity, 1))
        if proof.kind is not self.kind or any(len(levels) != count for levels, _, count in parts):
            raise _Invalid(f"{what} does not have the shape of this sector's trees ({self.kind.value})")
        computed, position, scale = proof.leaf, 0, 1
        for levels, arity, _ in parts:
            for element in levels:
                if len(element.hashes) != arity - 1 or not 0 <= element.index < arity:
                    raise _Invalid(f"{what} has a level that is not {arity - 1} siblings and a position below {arity}")
                children = [*element.hashes[: element.index], computed, *element.hashes[element.index :]]
                computed = _hashed(partial(poseidon, children), what)
                position += element.index * scale
                scale *= arity
        self.check_opening(what, position, node, proof.root, root, "its tree's root", computed)

    @staticmethod
    def check_opening(
        what: str, position: int, node: int, root: bytes, expected_root: bytes, root_name: str, computed: bytes
    ) -> None:
        if position != node:
            raise _Invalid(f"{what} opens node {position}, not node {node}")
        if root != expected_root:
            raise _Invalid(f"{what} ends in root {root.hex()}, which is not {root_name} {expected_root.hex()}")
        if computed != root:
            raise _Invalid(f"{what} does not hash up to its root (a node or sibling was changed)")

    def check_labels(self, proof: ChallengeProof, node: int) -> None:
        layers = self.proof.layers
        if len(proof.labeling_proofs) != layers:
            raise _Invalid(f"{len(proof.labeling_proofs)} labeling proofs; this sector has {layers} layers")
        for layer, labeling in enumerate(proof.labeling_proofs, start=1):
            expected = labeling_parents(
                layer,
                [column.column.rows[layer - 1] for column in proof.drg_parents],
                [column.column.rows[layer - 2] for column in proof.exp_parents] if layer > 1 else [],
            )
            if (labeling.layer_index, labeling.node) != (layer, node):
                raise _Invalid(
                    f"labeling proof {layer - 1} is for node {labeling.node} in layer {labeling.layer_index}, "
                    f"not node {node} in layer {layer}"
                )
            if list(labeling.parents) != expected:
                raise _Invalid(
                    f"the parents of the layer-{layer} labeling proof are not the labels in the parents' columns"
                )
            if label(self.replica_id, layer, node, expected) != proof.c_x.column.rows[layer - 1]:
                raise _Invalid(f"the layer-{layer} label in the node's column is not the one its parents give")
        encoding = proof.encoding_proof
        last = proof.labeling_proofs[-1]
        if (encoding.layer_index, encoding.node, encoding.parents) != (layers, node, last.parents):
            raise _Invalid("the encoding proof is not the last layer's labeling proof of the node")
        data, replica = proof.comm_d_proofs.leaf, proof.comm_r_last_proof.leaf
        key = proof.c_x.column.rows[-1]
        if _hashed(partial(encode, data, key), "the data node") != replica:
            raise _Invalid("the replica node is not the data node encoded with the last layer's label")

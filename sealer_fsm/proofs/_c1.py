"""C1 (`seal_commit_phase1`): the vanilla proofs of a sealed sector for the seed's challenges.

For each challenged node it opens, from the files PC1 and PC2 left in the sector's cache folder, the data node's
path in TreeD, the replica node's path in TreeR-last (rebuilding the discarded rows from the replica), and the
columns of the node and its 14 parents (labels of every layer) with their TreeC paths; the labeling and encoding
proofs are the parents' labels taken from those columns, as rust-fil-proofs' `Proof::from_parts` builds them.
Like the reference, it then verifies what it produced (`verify_porep`) and refuses to return an invalid proof.

There is no hot loop: a few dozen small reads and Poseidon hashes per challenge (2 challenges below 32GiB), so
this is Python over the C primitives. A cancel token is checked between challenges.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.proofs._c1_json import c1_output_json
from sealer_fsm.proofs._c1_types import (
    C1Output,
    ChallengeProof,
    Column,
    ColumnProof,
    LabelingProof,
    MerkleProof,
    PathElement,
    ProofKind,
)
from sealer_fsm.proofs._c1_verify import verify_porep
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._challenges import labeling_parents, node_parents, porep_challenges
from sealer_fsm.proofs._labels import layer_paths
from sealer_fsm.proofs._layout import NODE_SIZE, SectorShape, parse_p_aux
from sealer_fsm.proofs._merkle_path import MerklePath, tree_c_path, tree_r_last_path
from sealer_fsm.proofs._oct_tree import TreeInputError, check_input, written_whole
from sealer_fsm.proofs._pc2 import P_AUX
from sealer_fsm.proofs._poseidon_api import hash2
from sealer_fsm.proofs._seal_proofs import SealProof, replica_id, seal_proof
from sealer_fsm.proofs._tree_d import tree_d_path

C1_OUTPUT_NAME = "c1-output.json"


@dataclass(frozen=True)
class CommitInputs:
    """What C1 proves about a sector: who sealed it, with which ticket, and the commitments it pre-committed."""

    miner: int
    sector_number: int
    ticket: bytes
    seed: bytes
    comm_d: bytes
    comm_r: bytes
    proof_type: int


def seal_commit_phase1(
    cache: str | os.PathLike[str],
    sealed: str | os.PathLike[str],
    inputs: CommitInputs,
    *,
    cancel: CancelToken | None = None,
) -> C1Output:
    """The C1 output of the sector whose PC1/PC2 files are in `cache` and whose replica is `sealed`.

    Missing or corrupt sector files are `TreeInputError` (a ValueError) naming the file, bad inputs ValueError,
    I/O failures OSError; a set `cancel` raises Cancelled. Raises ValueError if the proof it built does not
    verify (the files are not those of the pre-committed sector).
    """
    cache_dir = Path(cache)
    proof = seal_proof(inputs.proof_type)
    if len(inputs.seed) != NODE_SIZE:
        raise ValueError(f"the seed must be 32 bytes, got {len(inputs.seed)} bytes")
    replica = replica_id(inputs.miner, inputs.sector_number, inputs.ticket, inputs.comm_d, proof.id)
    _check_commitments(cache_dir, inputs.comm_r)
    opener = _SectorFiles(cache_dir, Path(sealed), proof)
    partitions = []
    for row in porep_challenges(proof, replica, inputs.seed, inputs.comm_r):
        partition = []
        for challenge in row:
            if cancel is not None:
                cancel.check("C1")
            partition.append(opener.challenge_proof(challenge))
        partitions.append(tuple(partition))
    output = C1Output(
        registered_proof=proof.name,
        vanilla_proofs=tuple(partitions),
        comm_r=inputs.comm_r,
        comm_d=inputs.comm_d,
        replica_id=replica,
        seed=inputs.seed,
        ticket=inputs.ticket,
    )
    verdict = verify_porep(output, comm_d=inputs.comm_d, comm_r=inputs.comm_r, replica_id=replica, seed=inputs.seed)
    if not verdict.valid:
        raise ValueError(f"C1 built a proof that does not verify ({verdict.reason}): are these the sector's files?")
    return output


def save_c1_output(path: str | os.PathLike[str], output: C1Output) -> Path:
    """Write the output's JSON to `path` (through `<path>.tmp`, renamed when whole)."""
    target = Path(path)
    content = memoryview(c1_output_json(output))
    with written_whole([target]) as (fd,):
        while content:
            content = content[os.write(fd, content) :]
    return target


@dataclass(frozen=True)
class C1Run:
    """A C1 output written to disk, with what it took."""

    output: C1Output
    path: Path
    seconds: float


def run_c1(
    cache: str | os.PathLike[str],
    sealed: str | os.PathLike[str],
    inputs: CommitInputs,
    *,
    out: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
) -> C1Run:
    """C1 into `out` (default: `<cache>/c1-output.json`), timed."""
    started = time.monotonic()
    output = seal_commit_phase1(cache, sealed, inputs, cancel=cancel)
    path = save_c1_output(Path(cache) / C1_OUTPUT_NAME if out is None else out, output)
    return C1Run(output, path, time.monotonic() - started)


def _check_commitments(cache: Path, comm_r: bytes) -> None:
    """The cache's p_aux must give the pre-committed CommR (`validate_cache_for_commit`)."""
    p_aux = cache / P_AUX
    check_input(p_aux, 2 * NODE_SIZE, "PC2's p_aux")
    comm_c, comm_r_last = parse_p_aux(p_aux.read_bytes(), str(p_aux))
    if hash2(comm_c, comm_r_last) != comm_r:
        raise TreeInputError(
            f"{p_aux} gives CommR {hash2(comm_c, comm_r_last).hex()}, not the pre-committed {comm_r.hex()}"
        )


class _SectorFiles:
    """Opens one challenge's proofs from a sector's files."""

    def __init__(self, cache: Path, sealed: Path, proof: SealProof) -> None:
        self.cache, self.sealed, self.proof = cache, sealed, proof
        self.shape = SectorShape.of(proof.sector_size)
        self.layers = layer_paths(cache, proof.layers)
        for number, path in enumerate(self.layers, start=1):
            check_input(path, proof.sector_size, f"PC1 layer {number}")

    def challenge_proof(self, challenge: int) -> ChallengeProof:
        drg, expander = node_parents(self.proof, challenge)
        c_x = self.column_proof(challenge)
        drg_columns = tuple(self.column_proof(parent) for parent in drg)
        exp_columns = tuple(self.column_proof(parent) for parent in expander)
        labeling = tuple(
            LabelingProof(
                tuple(
                    labeling_parents(
                        layer,
                        [column.column.rows[layer - 1] for column in drg_columns],
                        [column.column.rows[layer - 2] for column in exp_columns] if layer > 1 else [],
                    )
                ),
                layer,
                challenge,
            )
            for layer in range(1, self.proof.layers + 1)
        )
        data = tree_d_path(self.cache, self.proof.sector_size, challenge)
        comm_d_proof = MerkleProof(
            ProofKind.SINGLE,
            data.root,
            data.leaf,
            tuple(PathElement((sibling,), (challenge >> height) & 1) for height, sibling in enumerate(data.siblings)),
        )
        replica_path = tree_r_last_path(self.cache, self.sealed, self.proof.sector_size, challenge)
        return ChallengeProof(
            comm_d_proofs=comm_d_proof,
            comm_r_last_proof=self.merkle_proof(replica_path),
            c_x=c_x,
            drg_parents=drg_columns,
            exp_parents=exp_columns,
            labeling_proofs=labeling,
            encoding_proof=labeling[-1],
        )

    def column_proof(self, node: int) -> ColumnProof:
        rows = []
        for path in self.layers:
            with open(path, "rb") as layer:
                layer.seek(node * NODE_SIZE)
                rows.append(layer.read(NODE_SIZE))
        inclusion = self.merkle_proof(tree_c_path(self.cache, self.proof.sector_size, node))
        return ColumnProof(Column(node, tuple(rows)), inclusion)

    def merkle_proof(self, path: MerklePath) -> MerkleProof:
        """A TreeC or TreeR-last path in merkletree's proof shape: the last levels are the sub and top levels."""
        elements = tuple(PathElement(level.siblings, level.index) for level in path.levels)
        if self.shape.top_arity:
            return MerkleProof(ProofKind.TOP, path.root, path.leaf, elements[:-2], elements[-2:-1], elements[-1:])
        if self.shape.sub_arity:
            return MerkleProof(ProofKind.SUB, path.root, path.leaf, elements[:-1], elements[-1:])
        return MerkleProof(ProofKind.SINGLE, path.root, path.leaf, elements)

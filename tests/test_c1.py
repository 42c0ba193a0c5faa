"""C1 of sectors sealed for real: the vanilla proofs verify, and every kind of tampering is named."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sealer_fsm.proofs import (
    C1Output,
    Cancelled,
    CancelToken,
    TreeInputError,
    c1_output_json,
    challenge_counts,
    parse_c1_output,
    run_c1,
    seal_commit_phase1,
    seal_proof,
    verify_porep,
)
from sealer_fsm.proofs._challenges import node_parents
from tests.support.sealed_sector import SealedSector, seal_sector

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
OTHER_SEED = bytes([0xEE] * 32)
SINGLE_PATH = ("data", "Single", "path", "path")


@pytest.fixture(scope="module")
def sector_2k(tmp_path_factory: pytest.TempPathFactory) -> SealedSector:
    return seal_sector(tmp_path_factory.mktemp("s2k"), 2 * KIB)


@pytest.fixture(scope="module")
def output_2k(sector_2k: SealedSector) -> C1Output:
    return seal_commit_phase1(sector_2k.cache, sector_2k.sealed, sector_2k.inputs)


def verdict(sector: SealedSector, output: C1Output, **changes: Any) -> Any:
    values = {
        "comm_d": sector.inputs.comm_d,
        "comm_r": sector.inputs.comm_r,
        "replica_id": sector.replica_id,
        "seed": sector.inputs.seed,
    }
    return verify_porep(output, **{**values, **changes})


def test_a_2kib_sector_with_data_proves_and_verifies(sector_2k: SealedSector, output_2k: C1Output) -> None:
    result = verdict(sector_2k, output_2k)
    assert result.valid and result.reason is None and result.challenges == 2
    assert output_2k.registered_proof == "StackedDrg2KiBV1_1"
    assert (output_2k.comm_d, output_2k.comm_r) == (sector_2k.inputs.comm_d, sector_2k.inputs.comm_r)
    assert (output_2k.seed, output_2k.ticket, output_2k.replica_id) == (
        sector_2k.inputs.seed,
        sector_2k.inputs.ticket,
        sector_2k.replica_id,
    )


def test_an_8mib_sector_proves_and_verifies(tmp_path: Path) -> None:
    sector = seal_sector(tmp_path, 8 * MIB)
    run = run_c1(sector.cache, sector.sealed, sector.inputs)
    assert run.path == sector.cache / "c1-output.json"
    assert parse_c1_output(run.path.read_bytes()) == run.output
    assert verdict(sector, run.output).valid
    assert not list(sector.cache.glob("*.tmp"))


@pytest.mark.parametrize("proof_type", [0, 15])
def test_a_committed_capacity_sector_of_other_proof_types(tmp_path: Path, proof_type: int) -> None:
    """The legacy graph (id 0, other parent order) and a non-interactive proof (id 15: 13 partitions of 2)."""
    sector = seal_sector(tmp_path, 2 * KIB, proof_type=proof_type, data_seed=None)
    output = seal_commit_phase1(sector.cache, sector.sealed, sector.inputs)
    counts = challenge_counts(seal_proof(proof_type))
    assert [len(partition) for partition in output.vanilla_proofs] == [counts.per_partition] * counts.partitions
    assert verdict(sector, output, proof_type=proof_type).valid


@pytest.mark.parametrize(
    ("proof_type", "partitions", "per_partition"),
    [(0, 1, 2), (5, 1, 2), (6, 1, 2), (7, 1, 2), (3, 10, 18), (8, 10, 18), (9, 10, 18), (15, 13, 2), (18, 126, 18)],
)
def test_challenge_counts_are_the_references(proof_type: int, partitions: int, per_partition: int) -> None:
    counts = challenge_counts(seal_proof(proof_type))
    assert (counts.partitions, counts.per_partition) == (partitions, per_partition)


def test_synthetic_porep_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"C1 of StackedDrg2KiBV1_1_Feat_SyntheticPoRep \(synthetic PoRep"):
        challenge_counts(seal_proof(10))


def test_the_challenged_nodes_come_from_the_seed(sector_2k: SealedSector, output_2k: C1Output) -> None:
    other = seal_commit_phase1(sector_2k.cache, sector_2k.sealed, sector_2k.with_seed(OTHER_SEED).inputs)
    nodes = [proof.c_x.column.index for proof in output_2k.vanilla_proofs[0]]
    assert nodes != [proof.c_x.column.index for proof in other.vanilla_proofs[0]]
    assert all(1 <= node < 64 for node in nodes)


# -- tampering ----------------------------------------------------------------------------------------------


def tampered(output: C1Output, change: Any) -> C1Output:
    """The output after `change(first challenge proof as JSON, whole document)`, read back as a file would be."""
    document = json.loads(c1_output_json(output))
    change(document["vanilla_proofs"]["StackedDrg2KiBV1"][0][0], document)
    return parse_c1_output(json.dumps(document))


def node_of(output: C1Output) -> int:
    return output.vanilla_proofs[0][0].c_x.column.index


@pytest.mark.parametrize(
    ("path", "what"),
    [
        (("comm_d_proofs", "data", "Single", "path", "path", 2, "hashes", 0), "the TreeD inclusion proof"),
        (("comm_d_proofs", "data", "Single", "leaf"), "the TreeD inclusion proof"),
        (("comm_r_last_proof", "data", "Single", "path", "path", 1, "hashes", 3), "the TreeR-last inclusion proof"),
        (
            ("replica_column_proofs", "c_x", "inclusion_proof", "data", "Single", "path", "path", 0, "hashes", 6),
            "the TreeC inclusion proof of the challenged node's column",
        ),
        (
            (*("replica_column_proofs", "exp_parents", 5, "inclusion_proof"), *SINGLE_PATH, 1, "hashes", 0),
            "the TreeC inclusion proof of the column of expander parent 5",
        ),
    ],
)
def test_a_flipped_bit_in_a_path_is_named(
    sector_2k: SealedSector, output_2k: C1Output, path: tuple[Any, ...], what: str
) -> None:
    def flip(proof: Any, document: Any) -> None:
        element = proof
        for key in path:
            element = element[key]
        element[0] ^= 1

    result = verdict(sector_2k, tampered(output_2k, flip))
    assert not result.valid
    assert result.reason.startswith(f"partition 0, challenge 0 (node {node_of(output_2k)}): {what}")
    assert result.reason.endswith("does not hash up to its root (a node or sibling was changed)")


def test_a_swapped_parent_column_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    drg, _ = node_parents(seal_proof(5), node_of(output_2k))
    first, second = next((i, j) for i in range(6) for j in range(i + 1, 6) if drg[i] != drg[j])

    def swap(proof: Any, document: Any) -> None:
        columns = proof["replica_column_proofs"]["drg_parents"]
        columns[first], columns[second] = columns[second], columns[first]

    result = verdict(sector_2k, tampered(output_2k, swap))
    assert result.reason == (
        f"partition 0, challenge 0 (node {node_of(output_2k)}): DRG parent {first} opens the column of node "
        f"{drg[second]}, but the graph gives node {drg[first]}"
    )


def test_a_labeling_proof_with_other_parents_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    def change(proof: Any, document: Any) -> None:
        proof["labeling_proofs"][1]["parents"][7][0] ^= 1

    result = verdict(sector_2k, tampered(output_2k, change))
    assert result.reason.endswith("the layer-2 labeling proof are not the labels in the parents' columns")


def test_a_changed_label_in_a_column_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    def change(proof: Any, document: Any) -> None:
        proof["replica_column_proofs"]["c_x"]["column"]["rows"][1][0] ^= 1

    result = verdict(sector_2k, tampered(output_2k, change))
    assert result.reason.endswith("the TreeC leaf of the challenged node's column is not the hash of that column")


def test_a_wrong_seed_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    result = verdict(sector_2k, output_2k, seed=OTHER_SEED)
    assert result.reason == f"the C1 output is for seed {bytes(range(32)).hex()}, not this sector's {OTHER_SEED.hex()}"

    def claim_the_other_seed(proof: Any, document: Any) -> None:
        document["seed"] = list(OTHER_SEED)

    relabelled = verdict(sector_2k, tampered(output_2k, claim_the_other_seed), seed=OTHER_SEED)
    assert not relabelled.valid
    assert f"the TreeD inclusion proof opens node {node_of(output_2k)}, not node" in relabelled.reason


def test_a_proof_of_another_sector_is_named(tmp_path: Path, sector_2k: SealedSector, output_2k: C1Output) -> None:
    other = seal_sector(tmp_path, 2 * KIB, ticket=bytes([0x22] * 32), number=9)
    foreign = seal_commit_phase1(other.cache, other.sealed, other.inputs)
    result = verdict(sector_2k, foreign)
    assert result.reason == (
        f"the C1 output is for replica id {other.replica_id.hex()}, not this sector's {sector_2k.replica_id.hex()}"
    )

    def claim_this_sector(proof: Any, document: Any) -> None:
        for field in ("replica_id", "comm_r", "comm_d", "ticket"):
            document[field] = list(getattr(output_2k, field))

    spliced = verdict(sector_2k, tampered(foreign, claim_this_sector))
    assert spliced.reason.startswith("the proofs' comm_c and comm_r_last hash to ")
    assert spliced.reason.endswith(f"not to CommR {sector_2k.inputs.comm_r.hex()}")


def test_a_proof_for_another_proof_type_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    result = verdict(sector_2k, output_2k, proof_type=0)
    assert result.reason == "the C1 output proves a StackedDrg2KiBV1_1 sector, not this sector's proof type 0"


def test_a_missing_challenge_proof_is_named(sector_2k: SealedSector, output_2k: C1Output) -> None:
    def drop(proof: Any, document: Any) -> None:
        document["vanilla_proofs"]["StackedDrg2KiBV1"][0].pop()

    result = verdict(sector_2k, tampered(output_2k, drop))
    assert result.reason == "partition 0 holds 1 challenge proofs; StackedDrg2KiBV1_1 has 2"


# -- the prover's inputs ------------------------------------------------------------------------------------


def test_c1_names_a_missing_tree_d(tmp_path: Path) -> None:
    sector = seal_sector(tmp_path, 2 * KIB)
    (sector.cache / "sc-02-data-tree-d.dat").unlink()
    with pytest.raises(TreeInputError, match=r"TreeD file .*sc-02-data-tree-d.dat is missing"):
        seal_commit_phase1(sector.cache, sector.sealed, sector.inputs)


def test_c1_refuses_files_of_another_comm_r(tmp_path: Path, sector_2k: SealedSector) -> None:
    with pytest.raises(TreeInputError, match=r"p_aux gives CommR [0-9a-f]{64}, not the pre-committed 00+"):
        seal_commit_phase1(sector_2k.cache, sector_2k.sealed, replace(sector_2k.inputs, comm_r=bytes(32)))


def test_c1_refuses_to_return_a_proof_of_corrupt_layers(tmp_path: Path) -> None:
    sector = seal_sector(tmp_path, 2 * KIB)
    output = seal_commit_phase1(sector.cache, sector.sealed, sector.inputs)
    node = node_of(output)
    layer = sector.cache / "sc-02-data-layer-1.dat"
    labels = bytearray(layer.read_bytes())
    labels[32 * node] ^= 1
    layer.write_bytes(bytes(labels))
    with pytest.raises(ValueError, match=r"C1 built a proof that does not verify \(partition 0, challenge 0"):
        seal_commit_phase1(sector.cache, sector.sealed, sector.inputs)


def test_c1_is_cancellable(sector_2k: SealedSector) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_c1(sector_2k.cache, sector_2k.sealed, sector_2k.inputs, out=sector_2k.cache / "no.json", cancel=token)
    assert not (sector_2k.cache / "no.json").exists()

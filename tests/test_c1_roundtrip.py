"""Our C1 JSON read by a reader written here from the Rust type definitions alone, then checked by the test's own
arithmetic (hashlib, the tests' independent Python Poseidon, the published parent cache) and by verify_porep.

The reader knows nothing of `sealer_fsm.proofs._c1_json`: it follows serde's derive rules for the structs of
rust-filecoin-proofs-api `seal.rs` (`SealCommitPhase1Output`, `VanillaSealProof`) and rust-fil-proofs
(`stacked::Proof`, `ReplicaColumnProof`, `ColumnProof`, `Column`, `LabelingProof`, `EncodingProof`,
`MerkleProof`/`ProofData`/`SingleProof`/`InclusionPath`/`PathElement`), checking each object's field names in
declaration order, as serde_json writes them.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from sealer_fsm.proofs import open_parent_cache, parse_c1_output, run_c1, verify_porep
from tests.support import poseidon_reference as poseidon
from tests.support.sealed_sector import SealedSector, seal_sector

Pairs = list[tuple[str, Any]]

# Field names in declaration order; `#[serde(skip)]` fields absent (LabelingProof::_h, EncodingProof::_h,
# PathElement::_arity), Column::_h present (a PhantomData without skip serialises as null).
SEAL_COMMIT_PHASE1_OUTPUT = ["registered_proof", "vanilla_proofs", "comm_r", "comm_d", "replica_id", "seed", "ticket"]
PROOF = ["comm_d_proofs", "comm_r_last_proof", "replica_column_proofs", "labeling_proofs", "encoding_proof"]
REPLICA_COLUMN_PROOF = ["c_x", "drg_parents", "exp_parents"]
COLUMN_PROOF = ["column", "inclusion_proof"]
COLUMN = ["index", "rows", "_h"]
LABELING_PROOF = ["parents", "layer_index", "node"]
ENCODING_PROOF = ["parents", "layer_index", "node"]
MERKLE_PROOF = ["data"]
SINGLE_PROOF = ["root", "leaf", "path"]
INCLUSION_PATH = ["path"]
PATH_ELEMENT = ["hashes", "index"]


def fields(value: Any, names: list[str]) -> dict[str, Any]:
    assert isinstance(value, list), "an object (read as pairs)"
    assert [name for name, _ in value] == names
    return dict(value)


def domain(value: Any) -> bytes:
    assert isinstance(value, list) and len(value) == 32
    assert all(type(byte) is int and 0 <= byte <= 255 for byte in value)
    return bytes(value)


def unsigned(value: Any) -> int:
    assert type(value) is int and value >= 0
    return value


def merkle_proof(value: Any) -> tuple[bytes, bytes, list[tuple[list[bytes], int]]]:
    data = fields(value, MERKLE_PROOF)["data"]
    assert [name for name, _ in data] == ["Single"], "ProofData of a 2KiB tree is the Single variant"
    single = fields(data[0][1], SINGLE_PROOF)
    path = [fields(element, PATH_ELEMENT) for element in fields(single["path"], INCLUSION_PATH)["path"]]
    levels = [([domain(node) for node in element["hashes"]], unsigned(element["index"])) for element in path]
    return domain(single["root"]), domain(single["leaf"]), levels


def column_proof(value: Any) -> tuple[int, list[bytes], tuple[bytes, bytes, list[tuple[list[bytes], int]]]]:
    proof = fields(value, COLUMN_PROOF)
    column = fields(proof["column"], COLUMN)
    assert column["_h"] is None
    return unsigned(column["index"]), [domain(row) for row in column["rows"]], merkle_proof(proof["inclusion_proof"])


def label_proof(value: Any, names: list[str]) -> tuple[list[bytes], int, int]:
    proof = fields(value, names)
    return [domain(parent) for parent in proof["parents"]], unsigned(proof["layer_index"]), unsigned(proof["node"])


def read(text: bytes) -> dict[str, Any]:
    document = fields(json.loads(text, object_pairs_hook=list), SEAL_COMMIT_PHASE1_OUTPUT)
    assert isinstance(document["registered_proof"], str), "a unit variant is its name"
    variants = document["vanilla_proofs"]
    assert [name for name, _ in variants] == ["StackedDrg2KiBV1"], "VanillaSealProof is externally tagged"
    partitions = []
    for partition in variants[0][1]:
        proofs = []
        for value in partition:
            proof = fields(value, PROOF)
            columns = fields(proof["replica_column_proofs"], REPLICA_COLUMN_PROOF)
            proofs.append(
                {
                    "d": merkle_proof(proof["comm_d_proofs"]),
                    "r": merkle_proof(proof["comm_r_last_proof"]),
                    "c_x": column_proof(columns["c_x"]),
                    "drg": [column_proof(column) for column in columns["drg_parents"]],
                    "exp": [column_proof(column) for column in columns["exp_parents"]],
                    "labels": [label_proof(labeling, LABELING_PROOF) for labeling in proof["labeling_proofs"]],
                    "encoding": label_proof(proof["encoding_proof"], ENCODING_PROOF),
                }
            )
        partitions.append(proofs)
    values = {name: domain(document[name]) for name in SEAL_COMMIT_PHASE1_OUTPUT[2:]}
    return {"registered_proof": document["registered_proof"], "partitions": partitions, **values}


# -- the test's own arithmetic ------------------------------------------------------------------------------


def sha_trunc(message: bytes) -> bytes:
    """SHA-256 with the top two bits cleared: TreeD's node hash and the SDR label."""
    digest = bytearray(hashlib.sha256(message).digest())
    digest[31] &= 0x3F
    return bytes(digest)


def path_root(leaf: bytes, levels: list[tuple[list[bytes], int]], hash_children: Any) -> tuple[bytes, int]:
    node, position, scale = leaf, 0, 1
    for siblings, index in levels:
        children = [*siblings[:index], node, *siblings[index:]]
        node = hash_children(children)
        position += index * scale
        scale *= len(children)
    return node, position


def check_independently(c1: dict[str, Any], sector: SealedSector, parent_rows: bytes) -> None:
    assert c1["registered_proof"] == "StackedDrg2KiBV1_1"
    first = c1["partitions"][0][0]
    comm_c, comm_r_last = first["c_x"][2][0], first["r"][0]
    assert poseidon.hash_nodes([comm_c, comm_r_last]) == c1["comm_r"] == sector.inputs.comm_r
    tree_hash = poseidon.hash_nodes
    for j, proof in enumerate(c1["partitions"][0]):
        digest = hashlib.sha256(c1["replica_id"] + c1["seed"] + struct.pack("<I", j)).digest()
        node = int.from_bytes(digest, "little") % 63 + 1
        d_root, d_leaf, d_levels = proof["d"]
        assert d_root == c1["comm_d"] and path_root(d_leaf, d_levels, lambda pair: sha_trunc(b"".join(pair))) == (
            d_root,
            node,
        )
        r_root, r_leaf, r_levels = proof["r"]
        assert r_root == comm_r_last and path_root(r_leaf, r_levels, tree_hash) == (r_root, node)
        parents = list(struct.unpack_from("<14I", parent_rows, 56 * node))
        columns = [proof["c_x"], *proof["drg"], *proof["exp"]]
        assert [index for index, _, _ in columns] == [node, *parents]
        for index, rows, (root, leaf, levels) in columns:
            assert leaf == poseidon.hash_nodes(rows) and root == comm_c
            assert path_root(leaf, levels, tree_hash) == (root, index)
        for layer, (labels, layer_index, labelled) in enumerate(proof["labels"], start=1):
            own = [rows[layer - 1] for _, rows, _ in proof["drg"]]
            if layer > 1:
                own += [rows[layer - 2] for _, rows, _ in proof["exp"]]
            assert (layer_index, labelled) == (layer, node) and labels == (own * 7)[:37]
            message = c1["replica_id"] + struct.pack(">IQ", layer, node) + bytes(20) + b"".join(labels)
            assert sha_trunc(message) == proof["c_x"][1][layer - 1]
        assert proof["encoding"] == proof["labels"][-1]
        key = int.from_bytes(proof["c_x"][1][-1], "little")
        assert (int.from_bytes(d_leaf, "little") + key) % poseidon.P == int.from_bytes(r_leaf, "little")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SealedSector, Path]:
    sector = seal_sector(tmp_path_factory.mktemp("roundtrip"), 2 << 10)
    return sector, run_c1(sector.cache, sector.sealed, sector.inputs).path


def test_our_json_reads_as_the_rust_types_say_and_verifies_independently(sealed: tuple[SealedSector, Path]) -> None:
    sector, path = sealed
    text = path.read_bytes()
    c1 = read(text)
    assert len(c1["partitions"]) == 1 and len(c1["partitions"][0]) == 2
    assert (c1["comm_d"], c1["seed"], c1["ticket"]) == (sector.inputs.comm_d, sector.inputs.seed, sector.inputs.ticket)
    with open_parent_cache(5) as cache:
        check_independently(c1, sector, bytes(cache.data))
    assert verify_porep(
        parse_c1_output(text),
        comm_d=c1["comm_d"],
        comm_r=c1["comm_r"],
        replica_id=c1["replica_id"],
        seed=c1["seed"],
        ticket=c1["ticket"],
        proof_type=5,
    ).valid


def test_the_file_is_compact_json_as_serde_json_writes_it(sealed: tuple[SealedSector, Path]) -> None:
    text = sealed[1].read_bytes()
    assert text.startswith(b'{"registered_proof":"StackedDrg2KiBV1_1","vanilla_proofs":{"StackedDrg2KiBV1":[[{')
    assert b" " not in text and b"\n" not in text
    assert b'"column":{"index":' in text and b',"_h":null},"inclusion_proof":{"data":{"Single":{"root":[' in text

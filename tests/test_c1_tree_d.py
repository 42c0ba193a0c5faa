"""TreeD on disk (every row, as rust-fil-proofs' PC1 stores it), its paths, and what C1 derives from the graph."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    Cancelled,
    CancelToken,
    TreeInputError,
    _backend,
    available_backends,
    build_tree_d,
    hash_node,
    open_parent_cache,
    porep_challenges,
    seal_proof,
    tree_d_file,
    tree_root,
    use_backend,
    zero_commitment,
)
from sealer_fsm.proofs._challenges import challenge_counts, node_parents
from sealer_fsm.proofs._tree_d import tree_d_path

NODE = 32


def field_nodes(rng: random.Random, count: int) -> bytes:
    return b"".join(rng.getrandbits(254).to_bytes(NODE, "little") for _ in range(count))


def reference_rows(leaves: bytes) -> list[bytes]:
    """Each row of the binary tree over `leaves`, leaves first (a row of odd length ends the list)."""
    rows = [leaves]
    while len(rows[-1]) > NODE and len(rows[-1]) % 64 == 0:
        row = rows[-1]
        rows.append(b"".join(hash_node(row[i : i + NODE], row[i + NODE : i + 64]) for i in range(0, len(row), 64)))
    return rows


@pytest.mark.parametrize("backend", available_backends())
def test_each_backend_hashes_a_level_like_the_reference(backend: str) -> None:
    children = os.urandom(64 * 70_001)  # more than two C work items of pairs, and not a power of two
    parents = bytearray(32 * 70_001)
    use_backend(backend)
    try:
        _backend.hash_level(memoryview(children), memoryview(parents), 2)
    finally:
        use_backend("best")
    assert bytes(parents) == reference_rows(children)[1]


def test_the_stored_tree_holds_every_row_leaves_first(tmp_path: Path) -> None:
    size = 64 << 10
    data = field_nodes(random.Random(3), size // NODE)
    (tmp_path / "staged").write_bytes(data)
    root = build_tree_d(tmp_path / "cache", size, tmp_path / "staged", threads=2)
    assert tree_d_file(tmp_path / "cache").read_bytes() == b"".join(reference_rows(data))
    assert root == tree_root(data)
    for node in (0, 1, 777, size // NODE - 1):
        path = tree_d_path(tmp_path / "cache", size, node)
        computed, position = path.leaf, node
        for sibling in path.siblings:
            computed = hash_node(sibling, computed) if position & 1 else hash_node(computed, sibling)
            position //= 2
        assert path.leaf == data[node * NODE : node * NODE + NODE]
        assert computed == path.root == root and len(path.siblings) == 11


def test_a_committed_capacity_tree_is_the_zero_tree_without_hashing(tmp_path: Path) -> None:
    size = 16 << 10
    root = build_tree_d(tmp_path, size, None)
    assert root == zero_commitment(size)
    assert tree_d_file(tmp_path).read_bytes() == b"".join(reference_rows(bytes(size)))


def test_bad_inputs_are_named_and_leave_nothing(tmp_path: Path) -> None:
    (tmp_path / "staged").write_bytes(bytes(1000))
    with pytest.raises(TreeInputError, match=r"the staged sector .*staged is 1000 bytes; expected 2048 bytes"):
        build_tree_d(tmp_path / "cache", 2048, tmp_path / "staged")
    with pytest.raises(ValueError, match="a sector of 3000 bytes has no binary TreeD"):
        build_tree_d(tmp_path / "cache", 3000, None)
    (tmp_path / "staged").write_bytes(bytes(2048))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        build_tree_d(tmp_path / "cache", 2048, tmp_path / "staged", cancel=token)
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(TreeInputError, match=r"TreeD file .* is missing"):
        tree_d_path(tmp_path / "cache", 2048, 0)
    build_tree_d(tmp_path / "cache", 2048, tmp_path / "staged")
    with pytest.raises(ValueError, match="node 64 is outside a sector of 64 nodes"):
        tree_d_path(tmp_path / "cache", 2048, 64)


@pytest.mark.parametrize("proof_type", [0, 5, 6])
def test_parents_computed_per_node_are_the_parent_cache_rows(proof_type: int) -> None:
    proof = seal_proof(proof_type)
    with open_parent_cache(proof_type) as cache:
        rng = random.Random(proof_type)
        nodes = range(proof.nodes) if proof.nodes <= 64 else [1, 2, 3, *rng.sample(range(proof.nodes), 200)]
        for node in nodes:
            row = list(struct.unpack_from("<14I", cache.data, 56 * node))
            drg, expander = node_parents(proof, node)
            assert drg + expander == row, node


@settings(max_examples=60, deadline=None)
@given(replica=st.binary(min_size=32, max_size=32), seed=st.binary(min_size=32, max_size=32))
def test_challenges_are_non_zero_nodes_and_partitions_continue_one_sequence(replica: bytes, seed: bytes) -> None:
    for proof_type, nodes in ((5, 64), (8, 1 << 30), (15, 64)):
        proof = seal_proof(proof_type)
        rows = porep_challenges(proof, replica, seed, comm_r=bytes(32))
        counts = challenge_counts(proof)
        assert [len(row) for row in rows] == [counts.per_partition] * counts.partitions
        flat = [node for row in rows for node in row]
        assert all(1 <= node < nodes for node in flat)
    wide = porep_challenges(seal_proof(8), replica, seed, bytes(32))
    assert [node for row in wide for node in row][:18] == wide[0]


def test_a_build_killed_mid_write_leaves_no_tree_and_a_rerun_replaces_its_leftover(tmp_path: Path) -> None:
    """kill -9 while rows are being hashed into the mapped `.tmp` (the child stops itself there, signals, and
    waits to be killed): no TreeD under its real name; the next build replaces the leftover and is whole."""
    size = 1 << 20
    staged = tmp_path / "staged"
    staged.write_bytes(field_nodes(random.Random(5), size // NODE))
    marker = tmp_path / "hashing"
    script = f"""
import time
from pathlib import Path
from sealer_fsm.proofs import _backend, build_tree_d
real = _backend.hash_level
def stall(children, parents, threads, cancel=None):
    real(children, parents, threads, cancel)
    Path({str(marker)!r}).touch()
    time.sleep(600)
_backend.hash_level = stall
build_tree_d({str(tmp_path / "cache")!r}, {size}, {str(staged)!r})
"""
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline and child.poll() is None, "the child never reached its first row"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    tree = tree_d_file(tmp_path / "cache")
    assert not tree.exists() and tree.with_name(tree.name + ".tmp").exists()
    assert build_tree_d(tmp_path / "cache", size, staged) == tree_root(staged.read_bytes())
    assert tree.read_bytes() == b"".join(reference_rows(staged.read_bytes()))
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == [tree.name]

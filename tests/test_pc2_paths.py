"""Merkle inclusion paths opened from the stored TreeC and TreeR-last (what C1 builds on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealer_fsm.proofs import TreeInputError, precommit_phase2, tree_c_path, tree_r_last_path
from tests.test_pc2 import SMALL_SHAPES, make_sector, reference_trees


def reference_siblings(rows: list[list[bytes]], position: int) -> list[tuple[int, list[bytes]]]:
    levels = []
    for row in rows[:-1]:
        group = row[position // 8 * 8 :][:8]
        levels.append((position % 8, group[: position % 8] + group[position % 8 + 1 :]))
        position //= 8
    return levels


@pytest.mark.parametrize("size", SMALL_SHAPES)
def test_paths_match_the_reference_trees(tmp_path: Path, size: int) -> None:
    sector = make_sector(tmp_path, size)
    output = precommit_phase2(sector.cache, sector.sealed, size, sector.data_path)
    tree_c, tree_r, replica = reference_trees(sector)
    shape = sector.shape
    for node in sorted(
        {0, 1, 7, 8, 63, shape.base_leaves, shape.nodes // 2 + 5, shape.nodes - 1} & set(range(shape.nodes))
    ):
        base, position = divmod(node, shape.base_leaves)
        c_path = tree_c_path(sector.cache, size, node)
        r_path = tree_r_last_path(sector.cache, sector.sealed, size, node)
        assert (c_path.root, r_path.root) == (output.comm_c, output.comm_r_last)
        assert c_path.verify() and r_path.verify()
        assert c_path.leaf == tree_c[base][0][position]
        assert r_path.leaf == replica[node * 32 : node * 32 + 32]
        for path, rows in ((c_path, tree_c[base]), (r_path, tree_r[base])):
            base_levels = [(level.index, list(level.siblings)) for level in path.levels[: len(rows) - 1]]
            assert base_levels == reference_siblings(rows, position)
        expected_levels = len(tree_c[base]) - 1 + (shape.base_trees > 1) + (shape.top_arity > 0)
        assert len(c_path.levels) == len(r_path.levels) == expected_levels


def test_a_tampered_replica_node_fails_verification(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    replica = bytearray(sector.sealed.read_bytes())
    replica[9 * 32] ^= 1
    sector.sealed.write_bytes(bytes(replica))
    assert not tree_r_last_path(sector.cache, sector.sealed, sector.size, 9).verify()
    # Node 40's siblings are rebuilt from the same replica segment (rows_to_discard), so its path fails too.
    assert not tree_r_last_path(sector.cache, sector.sealed, sector.size, 40).verify()


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    with pytest.raises(ValueError, match="node 64 is outside a sector of 64 nodes"):
        tree_c_path(sector.cache, sector.size, 64)
    (sector.cache / "sc-02-data-tree-c.dat").unlink()
    with pytest.raises(TreeInputError, match=r"TreeC file .* is missing"):
        tree_c_path(sector.cache, sector.size, 0)
    sector.sealed.write_bytes(b"short")
    with pytest.raises(TreeInputError, match=r"the replica .* is 5 bytes; expected 2048 bytes"):
        tree_r_last_path(sector.cache, sector.sealed, sector.size, 0)

"""Merkle inclusion paths in the stored TreeC and TreeR-last, as merkletree's `gen_cached_proof` opens them.

A path lists, from the leaf up, the siblings of the node at each level and the node's position among them:
the base tree's 8-ary levels, then (compound shapes) the sub-tree level over the base roots and the top level
over the sub-tree roots. TreeC files keep every row, so siblings are read directly. TreeR-last files keep only
the rows above `rows_to_discard`: for the levels below, the path reads the replica's segment under the lowest
stored node (8^(rows_to_discard+1) leaves) and rebuilds that little tree, as the reference does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sealer_fsm.proofs._layout import BASE_ARITY, NODE_SIZE, SectorShape
from sealer_fsm.proofs._oct_tree import TreeInputError, check_input, compound_root, last_node
from sealer_fsm.proofs._poseidon_api import extension, poseidon


@dataclass(frozen=True)
class PathLevel:
    """One level of a path: the node's position among its siblings and the other children, in order."""

    index: int
    siblings: tuple[bytes, ...]

    def parent(self, node: bytes) -> bytes:
        children = list(self.siblings)
        children.insert(self.index, node)
        return poseidon(children)


@dataclass(frozen=True)
class MerklePath:
    """An inclusion path of `leaf` (node `node_index` of the sector) up to `root`."""

    node_index: int
    leaf: bytes
    levels: tuple[PathLevel, ...]
    root: bytes

    def computed_root(self) -> bytes:
        node = self.leaf
        for level in self.levels:
            node = level.parent(node)
        return node

    def verify(self) -> bool:
        """Whether the leaf and siblings hash up to the root."""
        return self.computed_root() == self.root


def tree_c_path(cache: str | os.PathLike[str], sector_size: int, node_index: int) -> MerklePath:
    """The path of column hash `node_index` in the sector's stored TreeC (every row in the files)."""
    shape = SectorShape.of(sector_size)
    files = shape.tree_files(Path(cache), "tree-c")
    base, leaf_index = _locate(shape, node_index)
    check_input(files[base], shape.tree_c_size(), "TreeC file")
    with open(files[base], "rb") as tree:
        leaf = _read(tree, leaf_index * NODE_SIZE, 1)[0]
        levels = _stored_levels(tree, shape.row_widths(), 0, leaf_index)
    return _finish(shape, files, node_index, leaf, levels)


def tree_r_last_path(
    cache: str | os.PathLike[str], replica: str | os.PathLike[str], sector_size: int, node_index: int
) -> MerklePath:
    """The path of replica node `node_index` in the sector's stored TreeR-last (rebuilding the discarded rows)."""
    shape = SectorShape.of(sector_size)
    files = shape.tree_files(Path(cache), "tree-r-last")
    base, leaf_index = _locate(shape, node_index)
    first_stored = shape.rows_to_discard + 1
    segment = BASE_ARITY**first_stored
    offset = leaf_index % segment
    check_input(Path(replica), sector_size, "the replica")
    check_input(files[base], shape.tree_r_last_size(), "TreeR-last file")
    with open(replica, "rb") as replica_file:
        first_leaf = base * shape.base_leaves + leaf_index - offset
        leaves = _read(replica_file, first_leaf * NODE_SIZE, segment)
    rows = [leaves, *_split_rows(bytes(extension().levels(b"".join(leaves), first_stored)), segment, first_stored)]
    levels = [_level(rows[row], offset // BASE_ARITY**row) for row in range(first_stored)]
    with open(files[base], "rb") as tree:
        levels += _stored_levels(tree, shape.row_widths(), first_stored, leaf_index // segment)
    return _finish(shape, files, node_index, leaves[offset], levels)


def _locate(shape: SectorShape, node_index: int) -> tuple[int, int]:
    if isinstance(node_index, bool) or not isinstance(node_index, int) or not 0 <= node_index < shape.nodes:
        raise ValueError(f"node {node_index!r} is outside a sector of {shape.nodes} nodes")
    return divmod(node_index, shape.base_leaves)


def _read(file: BinaryIO, offset: int, count: int) -> list[bytes]:
    file.seek(offset)
    data = file.read(count * NODE_SIZE)
    if len(data) != count * NODE_SIZE:
        raise TreeInputError(f"{file.name} is shorter than its tree")
    return [data[i : i + NODE_SIZE] for i in range(0, len(data), NODE_SIZE)]


def _split_rows(concatenated: bytes, leaves: int, levels: int) -> list[list[bytes]]:
    """The rows `levels` returns, concatenated lowest first, as lists of nodes."""
    rows, offset, width = [], 0, leaves
    for _ in range(levels):
        width //= BASE_ARITY
        rows.append([concatenated[i : i + NODE_SIZE] for i in range(offset, offset + width * NODE_SIZE, NODE_SIZE)])
        offset += width * NODE_SIZE
    return rows


def _level(row: list[bytes], position: int) -> PathLevel:
    """The level of the node at `position` in `row`: its index among its 8 siblings and the other 7."""
    group = row[position // BASE_ARITY * BASE_ARITY :][:BASE_ARITY]
    index = position % BASE_ARITY
    return PathLevel(index, tuple(group[:index] + group[index + 1 :]))


def _stored_levels(tree: BinaryIO, widths: list[int], first_stored: int, position: int) -> list[PathLevel]:
    """The levels from row `first_stored` up to the root, read from a tree file storing the rows from there."""
    levels = []
    for row in range(first_stored, len(widths) - 1):
        offset = sum(widths[first_stored:row]) * NODE_SIZE
        group_start = position // BASE_ARITY * BASE_ARITY
        group = _read(tree, offset + group_start * NODE_SIZE, BASE_ARITY)
        levels.append(_level(group, position - group_start))
        position //= BASE_ARITY
    return levels


def _finish(shape: SectorShape, files: list[Path], node_index: int, leaf: bytes, levels: list[PathLevel]) -> MerklePath:
    """Adds the sub-tree and top levels of a compound shape; the root is the stored trees' root."""
    roots = [last_node(path) for path in files]
    if shape.base_trees > 1:
        sub, in_sub = divmod(node_index // shape.base_leaves, shape.sub_arity)
        levels.append(_group_level(roots[sub * shape.sub_arity : (sub + 1) * shape.sub_arity], in_sub))
        if shape.top_arity:
            sub_roots = [poseidon(roots[i : i + shape.sub_arity]) for i in range(0, len(roots), shape.sub_arity)]
            levels.append(_group_level(sub_roots, sub))
    return MerklePath(node_index, leaf, tuple(levels), compound_root(roots, shape))


def _group_level(group: list[bytes], index: int) -> PathLevel:
    return PathLevel(index, tuple(group[:index] + group[index + 1 :]))

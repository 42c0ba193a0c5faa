"""TreeD stored whole, as PC1 of rust-fil-proofs stores it for C1: `<cache>/sc-02-data-tree-d.dat`.

The file is merkletree's `DiskStore` of the binary sha256-trunc254 tree over the staged sector: every row, leaves
first (the sector's 32-byte nodes), then each row above, the root last; `(2 * nodes - 1) * 32` bytes. C1 opens the
inclusion path of each challenged data node from it. The tree depends on the staged data alone (not on the
ticket), so it stays valid while PC1 and PC2 are run again; it is rebuilt whenever the data is hashed again.

The file is written under `<name>.tmp` through a mapping and renamed when whole (`write_mapped`), so a kill at
any instant leaves no partial tree under the real name.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sealer_fsm.proofs import _backend
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._files import write_mapped
from sealer_fsm.proofs._oct_tree import TreeInputError, check_input
from sealer_fsm.proofs._reference import NODE_SIZE
from sealer_fsm.proofs._tree import FileChanged, check_threads, zero_commitment

TREE_D_NAME = "sc-02-data-tree-d.dat"
_COPY_CHUNK = 8 << 20  # bytes of staged data copied into the tree per read, between cancel checks


def tree_d_file(cache: str | os.PathLike[str]) -> Path:
    """Where a sector's TreeD lives in its cache folder (rust-fil-proofs' `CacheKey::CommDTree`)."""
    return Path(cache) / TREE_D_NAME


def tree_d_size(sector_size: int) -> int:
    """Bytes of a stored TreeD: every node of the binary tree over the sector's 32-byte nodes."""
    return (2 * (sector_size // NODE_SIZE) - 1) * NODE_SIZE


def build_tree_d(
    cache: str | os.PathLike[str],
    sector_size: int,
    staged: str | os.PathLike[str] | None,
    *,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> bytes:
    """Write the sector's TreeD into `cache` and return its root, the sector's CommD.

    `staged` is the Fr32-padded staged sector, or None for a committed-capacity sector (all zeros: the rows are
    the zero roots, nothing is hashed). A staged file of the wrong size is a TreeInputError; one that changes
    while it is read is FileChanged; I/O failures are OSError naming the file; a set `cancel` raises Cancelled.
    """
    nodes = sector_size // NODE_SIZE
    if sector_size < 2 * NODE_SIZE or sector_size & (sector_size - 1):
        raise ValueError(f"a sector of {sector_size} bytes has no binary TreeD (a power of two of 64 bytes or more)")
    source = None if staged is None else Path(staged)
    if source is not None:
        check_input(source, sector_size, "the staged sector")
    path = tree_d_file(cache)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(error.errno, f"cannot write TreeD in {path.parent}: {error.strerror or error}") from error
    with hashing_threads(check_threads(threads), cancel) as workers:

        def fill(tree: mmap.mmap) -> bytes:
            # Every view of the mapping is released on the way out (an error included), so that it can close.
            with memoryview(tree) as view:
                if source is None:
                    _fill_zero_rows(view, nodes)
                else:
                    _copy_leaves(source, view, sector_size, cancel)
                    _hash_rows(view, nodes, workers, cancel)
                return bytes(tree[-NODE_SIZE:])

        return write_mapped(path, tree_d_size(sector_size), fill, "TreeD")


def _copy_leaves(source: Path, tree: memoryview, size: int, cancel: CancelToken | None) -> None:
    with open(source, "rb") as file:
        before = os.fstat(file.fileno())
        done = 0
        while done < size:
            if cancel is not None:
                cancel.check("building TreeD")
            with tree[done : min(done + _COPY_CHUNK, size)] as part:
                got = file.readinto(part)
            if not got:
                raise FileChanged(source, f"it ended after {done} of its {size} bytes")
            done += got
        after = os.fstat(file.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise FileChanged(source, "its size or modification time moved")


def _hash_rows(tree: memoryview, nodes: int, workers: int, cancel: CancelToken | None) -> None:
    start, width = 0, nodes
    while width > 1:
        with (
            tree[start * NODE_SIZE : (start + width) * NODE_SIZE] as children,
            tree[(start + width) * NODE_SIZE : (start + width + width // 2) * NODE_SIZE] as parents,
        ):
            _backend.hash_level(children, parents, workers, cancel)
        start, width = start + width, width // 2


def _fill_zero_rows(tree: memoryview, nodes: int) -> None:
    """A zero sector's tree: row h holds the zero root of 2^h leaves everywhere (row 0 is already zeros)."""
    start, width, height = nodes, nodes // 2, 1
    while width >= 1:
        tree[start * NODE_SIZE : (start + width) * NODE_SIZE] = zero_commitment(NODE_SIZE << height) * width
        start, width, height = start + width, width // 2, height + 1


@dataclass(frozen=True)
class BinaryPath:
    """The inclusion path of one data node in TreeD: the sibling at each height, leaf first."""

    node_index: int
    leaf: bytes
    siblings: tuple[bytes, ...]
    root: bytes


def tree_d_path(cache: str | os.PathLike[str], sector_size: int, node_index: int) -> BinaryPath:
    """Open the path of data node `node_index` from the stored TreeD (TreeInputError if the file is missing
    or of the wrong size for this sector)."""
    nodes = sector_size // NODE_SIZE
    if isinstance(node_index, bool) or not isinstance(node_index, int) or not 0 <= node_index < nodes:
        raise ValueError(f"node {node_index!r} is outside a sector of {nodes} nodes")
    path = tree_d_file(cache)
    check_input(path, tree_d_size(sector_size), "TreeD file")
    siblings = []
    with open(path, "rb") as tree:
        leaf = _read_node(tree, node_index)
        start, width, position = 0, nodes, node_index
        while width > 1:
            siblings.append(_read_node(tree, start + (position ^ 1)))
            start, width, position = start + width, width // 2, position // 2
        root = _read_node(tree, start)
    return BinaryPath(node_index, leaf, tuple(siblings), root)


def _read_node(tree: BinaryIO, index: int) -> bytes:
    tree.seek(index * NODE_SIZE)
    node = tree.read(NODE_SIZE)
    if len(node) != NODE_SIZE:
        raise TreeInputError(f"{tree.name} ends before node {index}")
    return node

"""PC2 (seal pre-commit phase 2): TreeC, TreeR-last, the replica and CommR, as rust-fil-proofs computes them.

From PC1's label layers (`sc-02-data-layer-<n>.dat` in the sector's cache directory) and the sector's data:

* TreeC: leaf i is the Poseidon hash (arity = layers, MerkleTree tag) of the labels of node i in every layer;
  8-ary Poseidon base trees over the leaves, combined by the sector's shape; its root is comm_c.
* The replica: node i = data i + label i of the last layer (mod p), written to `sealed/<sector>`.
* TreeR-last: the same shape over the replica; its root is comm_r_last.
* CommR = Poseidon-arity-2(comm_c, comm_r_last); `p_aux` and `t_aux` record them and the store configs.

Each file is written whole or not at all (see `_oct_tree.written_whole`), and a file already whole under its
real name is kept: PC2 run again after a crash or a cancellation redoes only the trees that are not whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._labels import MARKER as LAYERS_MARKER
from sealer_fsm.proofs._labels import layer_paths
from sealer_fsm.proofs._layout import SectorShape, p_aux_bytes, t_aux_bytes
from sealer_fsm.proofs._oct_tree import (
    LeafKind,
    TreeRequest,
    build_base_tree,
    check_input,
    claim_outputs,
    compound_root,
    last_node,
    whole,
    written_whole,
)
from sealer_fsm.proofs._poseidon_api import hash2

P_AUX = "p_aux"
T_AUX = "t_aux"
MARKER = "pc2-trees.json"
"""Records which PC1 layers the folder's trees were built from (their `sdr-labels.json`)."""


@dataclass(frozen=True)
class Pc2Output:
    """The commitments PC2 produces (32-byte little-endian field elements)."""

    comm_c: bytes
    comm_r_last: bytes
    comm_r: bytes


def precommit_phase2(
    cache: str | os.PathLike[str],
    sealed: str | os.PathLike[str],
    sector_size: int,
    data: str | os.PathLike[str] | None,
    *,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> Pc2Output:
    """Runs PC2 for the sector whose layers are in `cache`; writes the replica to `sealed`.

    `data` is the sector's Fr32-padded staged file (`unsealed/<sector>`), or None for a committed-capacity
    sector (all zeros). Missing, short or corrupt inputs raise `TreeInputError` (a ValueError) naming the file;
    I/O failures (a full disk) raise OSError; a set `cancel` token raises Cancelled. Threads come from the
    process-wide budget (`threads`: at most that many).
    """
    cache_dir, sealed_path = Path(cache), Path(sealed)
    shape = SectorShape.of(sector_size)
    layers = layer_paths(cache_dir, shape.layers)
    for number, path in enumerate(layers, start=1):
        check_input(path, sector_size, f"PC1 layer {number}")
    data_path = None if data is None else Path(data)
    if data_path is not None:
        check_input(data_path, sector_size, "the sector's staged data")
    _claim_trees(shape, cache_dir, sealed_path)
    with hashing_threads(threads, cancel) as workers:
        comm_c = _tree_c(shape, cache_dir, layers, workers, cancel)
        comm_r_last = _tree_r_last(shape, cache_dir, sealed_path, data_path, layers[-1], workers, cancel)
    comm_r = hash2(comm_c, comm_r_last)
    write_small_file(cache_dir / P_AUX, p_aux_bytes(comm_c, comm_r_last))
    write_small_file(cache_dir / T_AUX, t_aux_bytes(shape, cache_dir))
    return Pc2Output(comm_c, comm_r_last, comm_r)


def _claim_trees(shape: SectorShape, cache: Path, sealed: Path) -> None:
    """Trees, replica and aux files of other layers (an earlier PC1 of this folder) are removed, not reused."""
    try:
        layers_identity: object = json.loads((cache / LAYERS_MARKER).read_text())
    except (FileNotFoundError, ValueError):
        layers_identity = None
    outputs = [*shape.tree_files(cache, "tree-c"), *shape.tree_files(cache, "tree-r-last"), sealed]
    claim_outputs(cache / MARKER, {"layers": layers_identity}, [*outputs, cache / P_AUX, cache / T_AUX])


def _tree_c(shape: SectorShape, cache: Path, layers: list[Path], threads: int, cancel: CancelToken | None) -> bytes:
    roots = []
    for index, path in enumerate(shape.tree_files(cache, "tree-c")):
        if whole(path, shape.tree_c_size()):
            roots.append(last_node(path))
            continue
        request = TreeRequest(LeafKind.COLUMNS, layers, shape.base_leaves, index * shape.base_leaves, 0)
        with written_whole([path]) as (tree_fd,):
            roots.append(build_base_tree(request, tree_fd, threads, cancel))
    return compound_root(roots, shape)


def _tree_r_last(
    shape: SectorShape,
    cache: Path,
    sealed: Path,
    data: Path | None,
    key: Path,
    threads: int,
    cancel: CancelToken | None,
) -> bytes:
    """The replica and TreeR-last are one pass: both are kept only if both are whole (the replica is renamed
    first, so whole trees imply a whole replica unless it was removed since)."""
    files = shape.tree_files(cache, "tree-r-last")
    if whole(sealed, shape.sector_size) and all(whole(path, shape.tree_r_last_size()) for path in files):
        return compound_root([last_node(path) for path in files], shape)
    roots = []
    with written_whole([sealed, *files]) as (replica_fd, *tree_fds):
        for index, tree_fd in enumerate(tree_fds):
            request = TreeRequest(
                LeafKind.ENCODE,
                [data, key],
                shape.base_leaves,
                index * shape.base_leaves,
                shape.rows_to_discard + 1,
                replica_fd=replica_fd,
            )
            roots.append(build_base_tree(request, tree_fd, threads, cancel))
    return compound_root(roots, shape)


def write_small_file(path: Path, content: bytes) -> None:
    with written_whole([path]) as (fd,):
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]

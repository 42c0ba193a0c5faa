"""Snap Deals encoding (empty sector update), as storage-proofs-update `encode_into` computes it.

The sector key is the old replica of a committed-capacity sector (`sealed/<sector>`), whose cache holds the
`p_aux` PC2 wrote (comm_c, comm_r_last). With the new data staged (`unsealed/<sector>`, Fr32-padded):

* comm_d_new = the sha256-trunc254 root of the new data (as CommD);
* comm_r_old = Poseidon-arity-2(comm_c, comm_r_last_old); phi = Poseidon-Custom(1)(comm_d_new, comm_r_old);
* new replica node i = key i + data i · rho(i >> (log2(nodes) - h)) with rho(high) = Poseidon-Custom(1)(phi, high);
* TreeR-last over the new replica (PC2's shape and rows_to_discard); comm_r_new = hash2(comm_c, comm_r_last_new).

Outputs are named as the reference names them: the new replica at `update/<sector>`, and in
`update-cache/<sector>/` the TreeR-last files, `p_aux` (comm_c, comm_r_last_new) and `t_aux` (the sector key's,
as the reference copies it). The reference also stores the new data's TreeD there for the update proof; that
proof is simulated here, so the TreeD is not written. The update proof (Groth16) itself stays simulated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._encoding import rho_table, snap_phi
from sealer_fsm.proofs._layout import SectorShape, p_aux_bytes, parse_p_aux, t_aux_bytes
from sealer_fsm.proofs._oct_tree import (
    LeafKind,
    TreeInputError,
    TreeRequest,
    build_base_tree,
    check_input,
    claim_outputs,
    compound_root,
    last_node,
    whole,
    written_whole,
)
from sealer_fsm.proofs._pc2 import P_AUX, T_AUX, write_small_file
from sealer_fsm.proofs._poseidon_api import hash2
from sealer_fsm.proofs._tree import tree_root_of_file

MARKER = "update-trees.json"
"""Records which sector key and new data the update's replica and trees were built from."""


@dataclass(frozen=True)
class SnapOutput:
    comm_r_new: bytes
    comm_r_last_new: bytes
    comm_d_new: bytes
    comm_r_old: bytes


def read_p_aux(cache: Path) -> tuple[bytes, bytes]:
    """(comm_c, comm_r_last) from a cache directory's p_aux."""
    path = cache / P_AUX
    try:
        return parse_p_aux(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise TreeInputError(f"{path} is missing: the sector key has no PC2 commitments") from None


def snap_encode_into(
    sector_key: str | os.PathLike[str],
    sector_key_cache: str | os.PathLike[str],
    staged_data: str | os.PathLike[str],
    new_replica: str | os.PathLike[str],
    new_cache: str | os.PathLike[str],
    sector_size: int,
    *,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> SnapOutput:
    """Encodes the staged data into the sector key; writes the new replica and its cache (all-or-nothing files).

    Run again after a crash, it keeps a new replica and TreeR-last that are already whole.
    """
    key_path, data_path, replica_path = Path(sector_key), Path(staged_data), Path(new_replica)
    old_cache, cache = Path(sector_key_cache), Path(new_cache)
    shape = SectorShape.of(sector_size)
    check_input(key_path, sector_size, "the sector key (old replica)")
    check_input(data_path, sector_size, "the new staged data")
    comm_c, comm_r_last_old = read_p_aux(old_cache)
    comm_r_old = hash2(comm_c, comm_r_last_old)
    comm_d_new = tree_root_of_file(data_path, threads=threads, cancel=cancel)  # borrows its own threads
    files = shape.tree_files(cache, "tree-r-last")
    identity = {"comm_d_new": comm_d_new.hex(), "comm_r_old": comm_r_old.hex()}
    claim_outputs(cache / MARKER, identity, [*files, replica_path, cache / P_AUX, cache / T_AUX])
    with hashing_threads(threads, cancel) as workers:
        if whole(replica_path, sector_size) and all(whole(path, shape.tree_r_last_size()) for path in files):
            roots = [last_node(path) for path in files]
        else:
            rhos = rho_table(snap_phi(comm_d_new, comm_r_old), shape.nodes)
            roots = []
            with written_whole([replica_path, *files]) as (replica_fd, *tree_fds):
                for index, tree_fd in enumerate(tree_fds):
                    request = TreeRequest(
                        LeafKind.SNAP_ENCODE,
                        [data_path, key_path],
                        shape.base_leaves,
                        index * shape.base_leaves,
                        shape.rows_to_discard + 1,
                        replica_fd=replica_fd,
                        rhos=rhos.table,
                        rho_shift=rhos.shift,
                    )
                    roots.append(build_base_tree(request, tree_fd, workers, cancel))
    comm_r_last_new = compound_root(roots, shape)
    write_small_file(cache / P_AUX, p_aux_bytes(comm_c, comm_r_last_new))
    write_small_file(cache / T_AUX, t_aux_bytes(shape, old_cache))
    return SnapOutput(hash2(comm_c, comm_r_last_new), comm_r_last_new, comm_d_new, comm_r_old)

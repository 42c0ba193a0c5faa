"""Filecoin commitments: Fr32 padding, the sha256-trunc254 tree, CommP, CommD, and their CIDs.

The hashing runs in a C extension (SHA-NI or AVX-512, whichever is faster on this CPU, else portable C)
and falls back to a pure-Python reference, with a warning, when the extension is not built.
See docs/proofs.md.
"""

from sealer_fsm.proofs._backend import available_backends, backend, native_available, use_backend
from sealer_fsm.proofs._budget import configure_threads, hashing_threads, usable_cores
from sealer_fsm.proofs._cancel import Cancelled, CancelToken
from sealer_fsm.proofs._cid import parse_piece_cid, parse_sealed_cid, piece_cid_v1, piece_cid_v2, sealed_cid
from sealer_fsm.proofs._commp import PieceCommitment, commp_bytes, commp_file
from sealer_fsm.proofs._encoding import decode, encode, snap_decode, snap_encode
from sealer_fsm.proofs._fr32 import fr32_pad, fr32_unpad
from sealer_fsm.proofs._layout import SectorShape
from sealer_fsm.proofs._merkle_path import MerklePath, PathLevel, tree_c_path, tree_r_last_path
from sealer_fsm.proofs._oct_tree import TreeInputError
from sealer_fsm.proofs._pc2 import Pc2Output, precommit_phase2
from sealer_fsm.proofs._poseidon_api import (
    PoseidonUnavailable,
    field_backend,
    field_backends,
    hash2,
    poseidon,
    poseidon_arities,
    use_field_backend,
)
from sealer_fsm.proofs._reference import hash_node
from sealer_fsm.proofs._sizes import (
    check_piece_size,
    is_piece_size,
    padded_size,
    piece_size_for_payload,
    unpadded_size,
)
from sealer_fsm.proofs._snap import SnapOutput, snap_encode_into
from sealer_fsm.proofs._tree import (
    Progress,
    comm_d_from_pieces,
    tree_root,
    tree_root_of_file,
    zero_commitment,
)

__all__ = [
    "CancelToken",
    "Cancelled",
    "MerklePath",
    "PathLevel",
    "Pc2Output",
    "PieceCommitment",
    "PoseidonUnavailable",
    "Progress",
    "SectorShape",
    "SnapOutput",
    "TreeInputError",
    "available_backends",
    "backend",
    "check_piece_size",
    "comm_d_from_pieces",
    "commp_bytes",
    "commp_file",
    "configure_threads",
    "decode",
    "encode",
    "field_backend",
    "field_backends",
    "fr32_pad",
    "fr32_unpad",
    "hash2",
    "hash_node",
    "hashing_threads",
    "is_piece_size",
    "native_available",
    "padded_size",
    "parse_piece_cid",
    "parse_sealed_cid",
    "piece_cid_v1",
    "piece_cid_v2",
    "piece_size_for_payload",
    "poseidon",
    "poseidon_arities",
    "precommit_phase2",
    "sealed_cid",
    "snap_decode",
    "snap_encode",
    "snap_encode_into",
    "tree_c_path",
    "tree_r_last_path",
    "tree_root",
    "tree_root_of_file",
    "unpadded_size",
    "usable_cores",
    "use_backend",
    "use_field_backend",
    "zero_commitment",
]

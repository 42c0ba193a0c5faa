"""Filecoin commitments (Fr32 padding, the sha256-trunc254 tree, CommP, CommD, their CIDs), PC1 (replica id,
the SDR graph's parent caches, the layers' labels), PC2 (Poseidon, TreeC, TreeR-last, CommR) and C1 (TreeD on
disk, the vanilla proofs in the reference's JSON, and their verifier).

The hashing runs in C extensions (SHA-NI or AVX-512, whichever is faster on this CPU, else portable C)
and falls back to a pure-Python reference, with a warning, when the extension is not built.
See docs/proofs.md.
"""

from sealer_fsm.proofs._backend import available_backends, backend, native_available, use_backend
from sealer_fsm.proofs._budget import configure_threads, hashing_threads, usable_cores
from sealer_fsm.proofs._c1 import C1_OUTPUT_NAME, C1Run, CommitInputs, run_c1, save_c1_output, seal_commit_phase1
from sealer_fsm.proofs._c1_json import (
    MAX_C1_BYTES,
    C1FormatError,
    c1_document_json,
    c1_output_json,
    load_c1_output,
    parse_c1_output,
)
from sealer_fsm.proofs._c1_types import C1Output
from sealer_fsm.proofs._c1_verify import PorepVerdict, verify_porep
from sealer_fsm.proofs._cancel import Cancelled, CancelToken
from sealer_fsm.proofs._challenges import ChallengeCounts, challenge_counts, porep_challenges
from sealer_fsm.proofs._cid import (
    parse_piece_cid,
    parse_sealed_cid,
    piece_cid_size,
    piece_cid_v1,
    piece_cid_v2,
    sealed_cid,
)
from sealer_fsm.proofs._commp import PieceCommitment, commp_bytes, commp_file
from sealer_fsm.proofs._encoding import decode, encode, snap_decode, snap_encode
from sealer_fsm.proofs._fr32 import fr32_pad, fr32_unpad
from sealer_fsm.proofs._labels import layer_path, layer_paths, sdr_labels
from sealer_fsm.proofs._layout import SectorShape, is_persisted_cache_file
from sealer_fsm.proofs._merkle_path import MerklePath, PathLevel, tree_c_path, tree_r_last_path
from sealer_fsm.proofs._oct_tree import TreeInputError
from sealer_fsm.proofs._parent_cache import (
    ParentCache,
    ParentCacheError,
    configure_parent_cache_dir,
    open_parent_cache,
    parent_cache_dir,
    parent_cache_name,
    parent_table,
)
from sealer_fsm.proofs._pc1 import PreCommit1, seal_pre_commit_phase1
from sealer_fsm.proofs._pc2 import Pc2Output, precommit_phase2
from sealer_fsm.proofs._pieces import Slot, piece_layout, piece_offsets
from sealer_fsm.proofs._poseidon_api import (
    FIELD_MODULUS,
    PoseidonUnavailable,
    field_backend,
    field_backends,
    hash2,
    poseidon,
    poseidon_arities,
    poseidon_many,
    use_field_backend,
)
from sealer_fsm.proofs._reference import hash_node
from sealer_fsm.proofs._seal_proofs import (
    SEAL_PROOFS,
    SealProof,
    default_proof_type,
    porep_id,
    prover_id,
    replica_id,
    seal_proof,
)
from sealer_fsm.proofs._sizes import (
    check_piece_size,
    is_piece_size,
    padded_size,
    piece_size_for_payload,
    unpadded_size,
)
from sealer_fsm.proofs._snap import SnapOutput, snap_encode_into
from sealer_fsm.proofs._tree import (
    FileChanged,
    Progress,
    comm_d_from_pieces,
    tree_root,
    tree_root_of_file,
    zero_commitment,
)
from sealer_fsm.proofs._tree_d import build_tree_d, tree_d_file
from sealer_fsm.proofs._unseal import SnapUpdate, UnsealOutput, padded_range, unseal_range

__all__ = [
    "C1_OUTPUT_NAME",
    "FIELD_MODULUS",
    "MAX_C1_BYTES",
    "SEAL_PROOFS",
    "C1FormatError",
    "C1Output",
    "C1Run",
    "CancelToken",
    "Cancelled",
    "ChallengeCounts",
    "CommitInputs",
    "FileChanged",
    "MerklePath",
    "ParentCache",
    "ParentCacheError",
    "PathLevel",
    "Pc2Output",
    "PieceCommitment",
    "PorepVerdict",
    "PoseidonUnavailable",
    "PreCommit1",
    "Progress",
    "SealProof",
    "SectorShape",
    "Slot",
    "SnapOutput",
    "SnapUpdate",
    "TreeInputError",
    "UnsealOutput",
    "available_backends",
    "backend",
    "build_tree_d",
    "c1_document_json",
    "c1_output_json",
    "challenge_counts",
    "check_piece_size",
    "comm_d_from_pieces",
    "commp_bytes",
    "commp_file",
    "configure_parent_cache_dir",
    "configure_threads",
    "decode",
    "default_proof_type",
    "encode",
    "field_backend",
    "field_backends",
    "fr32_pad",
    "fr32_unpad",
    "hash2",
    "hash_node",
    "hashing_threads",
    "is_persisted_cache_file",
    "is_piece_size",
    "layer_path",
    "layer_paths",
    "load_c1_output",
    "native_available",
    "open_parent_cache",
    "padded_range",
    "padded_size",
    "parent_cache_dir",
    "parent_cache_name",
    "parent_table",
    "parse_c1_output",
    "parse_piece_cid",
    "parse_sealed_cid",
    "piece_cid_size",
    "piece_cid_v1",
    "piece_cid_v2",
    "piece_layout",
    "piece_offsets",
    "piece_size_for_payload",
    "porep_challenges",
    "porep_id",
    "poseidon",
    "poseidon_arities",
    "poseidon_many",
    "precommit_phase2",
    "prover_id",
    "replica_id",
    "run_c1",
    "save_c1_output",
    "sdr_labels",
    "seal_commit_phase1",
    "seal_pre_commit_phase1",
    "seal_proof",
    "sealed_cid",
    "snap_decode",
    "snap_encode",
    "snap_encode_into",
    "tree_c_path",
    "tree_d_file",
    "tree_r_last_path",
    "tree_root",
    "tree_root_of_file",
    "unpadded_size",
    "unseal_range",
    "usable_cores",
    "use_backend",
    "use_field_backend",
    "verify_porep",
    "zero_commitment",
]

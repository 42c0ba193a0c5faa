"""The sealing stages as processors: the reference-shaped task in, the output out.

PC1 is real (`sealer_fsm.proofs.seal_pre_commit_phase1`: the replica id and every SDR layer in the cache folder);
its output names the staged data (`in_path`), which PC2 encodes into the sealed file, as the reference's PC1
output carries its paths. PC2 is real (`sealer_fsm.proofs.precommit_phase2`: TreeC, TreeR-last, the replica and
CommR), and so is the snap encoding (`sealer_fsm.proofs.snap_encode_into`). C1 and C2 are in
`sealer_fsm.steps.stages._commit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm.processors.tasks import (
    bytes32,
    miner_of_prover_id,
    read_bytes,
    read_field,
    read_piece_infos,
    read_seal_proof,
    read_update_sector_size,
)
from sealer_fsm.proofs import (
    CancelToken,
    comm_d_from_pieces,
    parent_cache_dir,
    precommit_phase2,
    seal_pre_commit_phase1,
    snap_encode_into,
)
from sealer_fsm.runtime import Permanent
from sealer_fsm.steps._files import file_failure, free_space, remove_path


def task_path(task: Any, name: str) -> Path:
    return Path(read_field(task, name, str))


def task_bytes(task: Any, name: str) -> bytes:
    return read_bytes(read_field(task, name, list), name)


def pc1(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{registered_proof, cache_path, in_path, out_path, prover_id, sector_id, ticket, piece_infos} → the replica
    id, the proof type and the layer files (with how long labelling took).

    Safe to run again: the layers already complete for the same replica id are kept."""
    proof = read_seal_proof(task)
    cache, staged, sealed = task_path(task, "cache_path"), task_path(task, "in_path"), task_path(task, "out_path")
    comm_d = comm_d_from_pieces(read_piece_infos(task), proof.sector_size)
    try:
        remove_path(sealed)  # a replica of an earlier PC2 is stale now
        out = seal_pre_commit_phase1(
            cache,
            miner=miner_of_prover_id(task_bytes(task, "prover_id")),
            sector_number=read_field(task, "sector_id", int),
            ticket=task_bytes(task, "ticket"),
            comm_d=comm_d,
            proof_type=proof.id,
            cancel=cancel,
        )
    except ValueError as error:  # includes a corrupt parent cache: the operator regenerates it
        raise Permanent(f"PC1: {error}") from error
    except OSError as error:
        failure = file_failure(error, "PC1")
        raise type(failure)(f"{failure.message} ({free_space(cache)}, {free_space(parent_cache_dir())})") from error
    return {
        "registered_proof": proof.name,
        "replica_id": out.replica_id.hex(),
        "proof_type": out.proof_type,
        "comm_d": bytes32(comm_d),
        "in_path": str(staged),
        "layers": [str(path) for path in out.layers],
        "seconds": out.seconds,
        "labels_per_second": out.labels_per_second,
    }


def pc2(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{pc1out, cache_dir, sealed_file} → {registered_proof, comm_r, comm_d} (the reference's
    SealPreCommitPhase2Output) and, ours, comm_c and comm_r_last: TreeC and TreeR-last from PC1's layers, the
    replica in the sealed file, CommR.

    Safe to run again: trees already whole for the same layers are kept."""
    pc1out = read_field(task, "pc1out", dict)
    proof = read_seal_proof(pc1out)
    comm_d = read_bytes(read_field(pc1out, "comm_d", list), "pc1out.comm_d")
    cache, sealed, staged = task_path(task, "cache_dir"), task_path(task, "sealed_file"), task_path(pc1out, "in_path")
    try:
        out = precommit_phase2(cache, sealed, proof.sector_size, staged, cancel=cancel)
    except ValueError as error:  # a missing, short or corrupt input, named
        raise Permanent(f"PC2: {error}") from error
    except OSError as error:
        raise file_failure(error, "PC2", writing=sealed) from error
    return {
        "registered_proof": proof.name,
        "comm_r": bytes32(out.comm_r),
        "comm_d": bytes32(comm_d),
        "comm_c": bytes32(out.comm_c),
        "comm_r_last": bytes32(out.comm_r_last),
    }


def snap_encode(task: Any, cancel: CancelToken) -> dict[str, Any]:
    """{registered_proof, new_replica_path, new_cache_path, sector_path, sector_cache_path, staged_data_path,
    piece_infos} → {comm_r_new, comm_r_last_new, comm_d_new} (the reference's SnapEncodeOutput): the new data
    encoded into a sector sealed for real, its TreeR-last, p_aux and t_aux in the new cache.

    Safe to run again: a new replica and TreeR-last already whole for the same inputs are kept."""
    sector_size = read_update_sector_size(task)
    replica = task_path(task, "new_replica_path")
    try:
        out = snap_encode_into(
            task_path(task, "sector_path"),
            task_path(task, "sector_cache_path"),
            task_path(task, "staged_data_path"),
            replica,
            task_path(task, "new_cache_path"),
            sector_size,
            cancel=cancel,
        )
    except ValueError as error:  # a missing, short or corrupt input (TreeInputError), named
        raise Permanent(f"snap encode: {error}") from error
    except OSError as error:
        raise file_failure(error, f"snap encode into {replica}", writing=replica) from error
    return {
        "comm_r_new": bytes32(out.comm_r_new),
        "comm_r_last_new": bytes32(out.comm_r_last_new),
        "comm_d_new": bytes32(out.comm_d_new),
    }

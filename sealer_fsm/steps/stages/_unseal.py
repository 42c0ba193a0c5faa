"""The unseal stage as a processor: the reference's `Unseal` task in, the number of bytes written out.

The reference's task (`vc-processors/src/builtin/tasks.rs`): registered_proof, prover_id, sector_id, comm_d,
ticket, cache_dir (the replica's cache in its store), sealed_file, unsealed_output, offset and num_bytes (unpadded);
its output is the `UnpaddedBytesAmount` written. Ours adds two fields a reference child ignores: `scratch_dir`,
where the key is labelled again (never the store's cache, which may be read-only), and `update` (comm_d_new,
comm_r_old) for a piece of a Snap Deals upgrade, whose replica is `sealed_file` then. The work is
`sealer_fsm.proofs.unseal_range`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm.processors.tasks import miner_of_prover_id, read_bytes, read_field, read_seal_proof
from sealer_fsm.proofs import CancelToken, SnapUpdate, unseal_range
from sealer_fsm.runtime import Permanent
from sealer_fsm.steps._files import file_failure


def _bytes(task: Any, name: str) -> bytes:
    return read_bytes(read_field(task, name, list), name)


def _update(task: Any) -> SnapUpdate | None:
    raw = task.get("update")
    if raw is None:
        return None
    return SnapUpdate(comm_d_new=_bytes(raw, "comm_d_new"), comm_r_old=_bytes(raw, "comm_r_old"))


def unseal(task: Any, cancel: CancelToken) -> int:
    """{registered_proof, prover_id, sector_id, comm_d, ticket, cache_dir, sealed_file, unsealed_output, offset,
    num_bytes, scratch_dir[, update]} → the unpadded bytes written to `unsealed_output` (whole or not at all).

    Safe to run again: the key's layers already whole in the scratch folder are kept."""
    proof = read_seal_proof(task)
    output = Path(read_field(task, "unsealed_output", str))
    what = f"unseal into {output}"
    try:
        out = unseal_range(
            Path(read_field(task, "scratch_dir", str)),
            Path(read_field(task, "sealed_file", str)),
            output,
            miner=miner_of_prover_id(_bytes(task, "prover_id")),
            sector_number=read_field(task, "sector_id", int),
            ticket=_bytes(task, "ticket"),
            comm_d=_bytes(task, "comm_d"),
            proof_type=proof.id,
            offset=read_field(task, "offset", int),
            num_bytes=read_field(task, "num_bytes", int),
            update=_update(task),
            cancel=cancel,
        )
    except ValueError as error:  # a range outside the sector, a missing, short or corrupt replica
        raise Permanent(f"{what}: {error}") from error
    except OSError as error:
        raise file_failure(error, what, writing=output) from error
    return out.bytes_written

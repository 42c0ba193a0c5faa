"""Unseal: a range of a sector's data read back out of its replica (rust-fil-proofs' `unseal_range`).

The replica alone does not give the data back: its key is the last SDR layer, which only the sector's ticket and
CommD regenerate. So the key is labelled again (PC1 into a scratch cache folder; the reference's
`get_unsealed_range` labels the graph again too), then each node of the range is decoded: replica - key for a
sealed sector, (replica - key) · rho⁻¹ for an upgraded (Snap Deals) one, whose sector key is the
committed-capacity sector's last layer (its data was zeros, so its replica was the key itself). The Fr32 padding
is removed last, and the bytes asked for are written to the output, whole or not at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._encoding import decode, snap_decode
from sealer_fsm.proofs._fr32 import fr32_unpad
from sealer_fsm.proofs._oct_tree import TreeInputError, check_input
from sealer_fsm.proofs._pc1 import seal_pre_commit_phase1
from sealer_fsm.proofs._seal_proofs import seal_proof
from sealer_fsm.proofs._sizes import unpadded_size

_CHUNK = 1 << 20  # padded bytes decoded at a time (8,192 Fr32 blocks); a multiple of 128 and of 32
_FR32_BLOCK, _FR32_DATA = 128, 127


@dataclass(frozen=True)
class SnapUpdate:
    """What decodes an upgraded replica: the new data's CommD and the CommR of the sector key (the sector's
    CommR before the upgrade)."""

    comm_d_new: bytes
    comm_r_old: bytes


@dataclass(frozen=True)
class UnsealOutput:
    bytes_written: int
    replica_id: bytes
    seconds: float


def padded_range(offset: int, num_bytes: int) -> tuple[int, int]:
    """The padded byte range [start, end) of whole Fr32 blocks holding unpadded bytes [offset, offset+num_bytes)."""
    start = offset // _FR32_DATA * _FR32_BLOCK
    end = -(-(offset + num_bytes) // _FR32_DATA) * _FR32_BLOCK
    return start, end


def unseal_range(
    cache_dir: str | os.PathLike[str],
    replica: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    miner: int,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
    proof_type: int,
    offset: int,
    num_bytes: int,
    update: SnapUpdate | None = None,
    parent_cache_dir: Path | None = None,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> UnsealOutput:
    """Write unpadded bytes [offset, offset + num_bytes) of the sector's data to `output`.

    `replica` is the sealed file (`sealed/<sector>`), or with `update` the upgraded one (`update/<sector>`);
    `comm_d` is always the CommD the sector was sealed with (the pre-commit's), which with the ticket gives the
    key. `cache_dir` receives PC1's layers (a rerun after a crash keeps the whole ones; the caller removes them
    when done). Raises ValueError for a range outside the sector or bad sealing values, TreeInputError (a
    ValueError) for a missing or wrongly sized replica or a node that is not a field element, OSError naming
    the file, or Cancelled; `output` is then left as it was.
    """
    started = time.monotonic()
    proof = seal_proof(proof_type)
    capacity = unpadded_size(proof.sector_size)
    if offset < 0 or num_bytes <= 0 or offset + num_bytes > capacity:
        raise ValueError(
            f"unpadded bytes {offset}..{offset + num_bytes} are not a range of a sector holding {capacity} bytes"
        )
    replica_path, output_path = Path(replica), Path(output)
    check_input(replica_path, proof.sector_size, "the replica")
    pc1 = seal_pre_commit_phase1(
        Path(cache_dir),
        miner=miner,
        sector_number=sector_number,
        ticket=ticket,
        comm_d=comm_d,
        proof_type=proof_type,
        parent_cache_dir=parent_cache_dir,
        threads=threads,
        cancel=cancel,
    )
    key_path = pc1.layers[-1]
    with _written_whole(output_path) as target, ExitStack() as files:
        replica_fd = files.enter_context(_opened(replica_path))
        key_fd = files.enter_context(_opened(key_path))
        start, end = padded_range(offset, num_bytes)
        skip = offset - start // _FR32_BLOCK * _FR32_DATA
        remaining = num_bytes
        for position in range(start, end, _CHUNK):
            if cancel is not None:
                cancel.check("unseal")
            length = min(_CHUNK, end - position)
            nodes = _decode(
                _read(replica_fd, position, length, replica_path),
                _read(key_fd, position, length, key_path),
                position // 32,
                proof.nodes,
                update,
            )
            data = fr32_unpad(nodes)[skip : skip + remaining]
            target.write(data)
            remaining -= len(data)
            skip = 0
    return UnsealOutput(num_bytes, pc1.replica_id, time.monotonic() - started)


def _decode(replica: bytes, key: bytes, first_node: int, nodes: int, update: SnapUpdate | None) -> bytes:
    try:
        if update is None:
            return decode(replica, key)
        return snap_decode(
            replica, key, comm_d_new=update.comm_d_new, comm_r_old=update.comm_r_old, nodes=nodes, first_node=first_node
        )
    except ValueError as error:
        raise TreeInputError(f"the replica's nodes from {first_node} on cannot be decoded: {error}") from error


@contextmanager
def _opened(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def _read(fd: int, position: int, length: int, path: Path) -> bytes:
    data = os.pread(fd, length, position)
    if len(data) != length:
        raise TreeInputError(f"{path} ended at byte {position + len(data)}, inside the range being unsealed")
    return data


@contextmanager
def _written_whole(path: Path) -> Iterator[BinaryIO]:
    """A file written under `<name>.tmp`, flushed and renamed to `path` only when the block completes."""
    temporary = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(temporary, "wb", buffering=0) as target:
            yield target
            os.fsync(target.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

"""CommP: the piece commitment of a raw payload, from bytes in memory or streamed from a file.

The payload is zero-filled to the piece's 127·2^k data bytes, Fr32-padded and hashed into the
sha256-trunc254 tree; the zero-filled tail is never hashed, its subtrees come from the zero table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sealer_fsm.proofs import _backend
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._cid import piece_cid_v1, piece_cid_v2
from sealer_fsm.proofs._sizes import piece_size_for_payload
from sealer_fsm.proofs._tree import Progress, check_threads, root_of_chunks


@dataclass(frozen=True)
class PieceCommitment:
    """A piece's commitment with the sizes deal-making needs: the raw payload and the padded piece."""

    comm: bytes
    payload_size: int
    piece_size: int

    @property
    def cid(self) -> str:
        """The lotus (v1) piece CID, "baga6ea4seaq..."."""
        return piece_cid_v1(self.comm)

    @property
    def cid_v2(self) -> str:
        """The FRC-0069 (v2) piece CID, "bafkzcib...", which also carries the payload size."""
        return piece_cid_v2(self.comm, self.payload_size, self.piece_size)


def commp_bytes(data: bytes, threads: int | None = None, cancel: CancelToken | None = None) -> PieceCommitment:
    """CommP of a payload held in memory."""
    piece_size = piece_size_for_payload(len(data))
    with hashing_threads(check_threads(threads), cancel) as workers:
        comm = root_of_chunks(
            piece_size,
            len(data),
            lambda offset, length: _backend.subtree_root_of_buffer(data, offset, length, True, workers, cancel),
            fr32=True,
            cancel=cancel,
        )
    return PieceCommitment(comm, len(data), piece_size)


def commp_file(
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> PieceCommitment:
    """CommP of a payload file, streamed in bounded memory; `progress(done, total)` counts file bytes.

    `threads` are borrowed from the process-wide hashing budget (default: all it has free); pass 1 to keep
    to one core.
    """
    with open(path, "rb") as file, hashing_threads(check_threads(threads), cancel) as workers:
        fd = file.fileno()
        size = os.fstat(fd).st_size
        piece_size = piece_size_for_payload(size)
        comm = root_of_chunks(
            piece_size,
            size,
            lambda offset, length: _backend.subtree_root_of_fd(fd, size, offset, length, True, workers, cancel),
            fr32=True,
            progress=progress,
            cancel=cancel,
        )
    return PieceCommitment(comm, size, piece_size)

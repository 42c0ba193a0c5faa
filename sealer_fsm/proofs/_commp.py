"""CommP: the piece commitment of a raw payload, from bytes in memory or streamed from a file.

The payload is zero-filled to the piece's 127·2^k data bytes, Fr32-padded and hashed into the
sha256-trunc254 tree; the zero-filled tail is never hashed, its subtrees come from the zero table.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass

from sealer_fsm.proofs import _backend
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._cid import piece_cid_v1, piece_cid_v2
from sealer_fsm.proofs._reference import FR32_DATA_BLOCK, FR32_PADDED_BLOCK
from sealer_fsm.proofs._sizes import piece_size_for_payload, unpadded_size
from sealer_fsm.proofs._tree import (
    Progress,
    check_threads,
    fold_roots,
    root_of_chunks,
    root_of_open_file,
    zero_commitment,
)

# Padded bytes per chunk when streaming: several 1 MiB parts for the C threads, little memory held.
_STREAM_CHUNK = 8 << 20
# Bytes asked of the stream per read: /proc files refuse (ENOMEM) to read megabytes at once.
_READ_SIZE = 64 << 10
# A stream is cut off past the payload of the largest piece (a 64GiB sector): a pipe may have no end.
_LARGEST_PAYLOAD = unpadded_size(64 << 30)


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
    with hashing_threads(check_threads(threads), cancel) as workers:
        return _commp_of_buffer(data, workers, cancel)


def _commp_of_buffer(data: bytes, workers: int, cancel: CancelToken | None) -> PieceCommitment:
    piece_size = piece_size_for_payload(len(data))
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
    """CommP of a payload file, in bounded memory; `progress(done, total)` counts file bytes.

    A regular file (or block device) is read by offset, and must not change meanwhile (FileChanged if it
    does). A pipe, a FIFO, a socket, a terminal, or a file whose size says nothing (0 in /proc) is streamed
    to its end, up to the largest piece; a character device such as /dev/zero has no end and is refused
    (ValueError). `threads` are borrowed from the process-wide hashing budget (default: all it has free);
    pass 1 to keep to one core.
    """
    with open(path, "rb", buffering=0) as file, hashing_threads(check_threads(threads), cancel) as workers:
        fd = file.fileno()
        info = os.fstat(fd)
        if stat.S_ISBLK(info.st_mode):
            size = os.lseek(fd, 0, os.SEEK_END)
        elif stat.S_ISREG(info.st_mode) and info.st_size > 0:
            size = info.st_size
        elif stat.S_ISCHR(info.st_mode) and not os.isatty(fd):
            raise ValueError("a character device has no end to hash (pipe the payload in instead)")
        else:
            return _commp_of_stream(file, workers, cancel)
        comm = root_of_open_file(path, fd, info, size, fr32=True, workers=workers, progress=progress, cancel=cancel)
    return PieceCommitment(comm, size, piece_size_for_payload(size))


def _commp_of_stream(stream: io.RawIOBase, workers: int, cancel: CancelToken | None) -> PieceCommitment:
    """CommP of what `stream` gives until its end, holding one chunk at a time.

    Full chunks are hashed as they arrive; at the end, the piece size is known and the tail's chunk plus the
    zero chunks after it complete the tree, as `root_of_chunks` lays it out."""
    chunk = min(_backend.chunk_size(), _STREAM_CHUNK)
    buffer = bytearray(chunk // FR32_PADDED_BLOCK * FR32_DATA_BLOCK)
    roots: list[bytes] = []
    total = 0
    while True:
        if cancel is not None:
            cancel.check("hashing")
        got = _read_into(stream, buffer)
        total += got
        if total > _LARGEST_PAYLOAD:
            raise ValueError(f"the stream goes on past {_LARGEST_PAYLOAD} bytes, the payload of the largest piece")
        if got < len(buffer):
            break
        roots.append(_backend.subtree_root_of_buffer(buffer, 0, chunk, True, workers, cancel))
    tail = bytes(buffer[:got])
    if not roots:
        return _commp_of_buffer(tail, workers, cancel)
    piece_size = piece_size_for_payload(total)
    if tail:
        roots.append(_backend.subtree_root_of_buffer(tail, 0, chunk, True, workers, cancel))
    roots += [zero_commitment(chunk)] * (piece_size // chunk - len(roots))
    return PieceCommitment(fold_roots(roots), total, piece_size)


def _read_into(stream: io.RawIOBase, buffer: bytearray) -> int:
    """Fill `buffer` from `stream`; fewer bytes only at its end."""
    view = memoryview(buffer)
    got = 0
    while got < len(buffer):
        count = stream.readinto(view[got : got + _READ_SIZE])
        if not count:
            break
        got += count
    view.release()
    return got

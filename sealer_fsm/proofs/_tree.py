"""The sha256-trunc254 binary tree: roots over padded data, zero subtrees, and CommD from a piece list.

Large inputs are cut into power-of-two chunks whose roots the backend computes (in C, on several threads,
with the GIL released); this module folds the chunk roots, so memory stays bounded by one chunk per thread
whatever the input size. Chunks past the end of the data are all zeros and take their root from the
zero-commitment table instead of being hashed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache

from sealer_fsm.proofs import _backend
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._reference import NODE_SIZE, hash_node
from sealer_fsm.proofs._sizes import check_piece_size, piece_size_for_payload

Progress = Callable[[int, int], None]
"""Called as `progress(done, total)` in input bytes after each chunk of a long computation."""


class FileChanged(OSError):
    """A file shrank, grew or was written to while it was hashed: the commitment would not be the file's."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        self.message = f"{os.fspath(path)} changed while it was hashed ({what}); hash it again once it is complete"
        super().__init__(self.message)
        self.filename = os.fspath(path)

    def __str__(self) -> str:
        return self.message


_MAX_TREE_HEIGHT = 50  # 32 B · 2^50 = 32 PiB: far beyond any sector, keeps the zero table finite


def tree_root(padded: bytes, threads: int | None = None, cancel: CancelToken | None = None) -> bytes:
    """Root over already Fr32-padded bytes whose length is a power-of-two number of 32-byte leaves.

    `threads` (default: all the process-wide budget has free) are borrowed from the hashing budget."""
    size = _check_tree_size(len(padded), "tree_root input")
    with hashing_threads(check_threads(threads), cancel) as workers:
        return root_of_chunks(
            size,
            size,
            lambda offset, length: _backend.subtree_root_of_buffer(padded, offset, length, False, workers, cancel),
            cancel=cancel,
        )


def tree_root_of_file(
    path: str | os.PathLike[str],
    threads: int | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> bytes:
    """Root over a file that is already Fr32-padded, such as a staged sector: that root is the sector's CommD.

    The file is streamed (bounded memory); its size must be a power-of-two number of 32-byte leaves.
    """
    with open(path, "rb") as file, hashing_threads(check_threads(threads), cancel) as workers:
        before = os.fstat(file.fileno())
        _check_tree_size(before.st_size, f"size of {os.fspath(path)}")
        return root_of_open_file(
            path, file.fileno(), before, before.st_size, fr32=False, workers=workers, progress=progress, cancel=cancel
        )


def root_of_open_file(
    path: str | os.PathLike[str],
    fd: int,
    before: os.stat_result,
    size: int,
    *,
    fr32: bool,
    workers: int,
    progress: Progress | None,
    cancel: CancelToken | None,
) -> bytes:
    """Root over the first `size` bytes of the open file `fd` (raw payload with `fr32`, else padded leaves),
    read in chunks. FileChanged if the file is not, after hashing, what it was when `before` was taken: a read
    came up short (it shrank), or its size or modification time moved (it grew, or was written to)."""
    tree_size = piece_size_for_payload(size) if fr32 else size
    try:
        root = root_of_chunks(
            tree_size,
            size,
            lambda offset, length: _backend.subtree_root_of_fd(fd, size, offset, length, fr32, workers, cancel),
            fr32=fr32,
            progress=progress,
            cancel=cancel,
        )
    except EOFError:
        raise FileChanged(path, f"it shrank from {size} to {os.fstat(fd).st_size} bytes") from None
    after = os.fstat(fd)
    if after.st_size != before.st_size:
        raise FileChanged(path, f"its size went from {before.st_size} to {after.st_size} bytes")
    if after.st_mtime_ns != before.st_mtime_ns:
        raise FileChanged(path, "it was written to")
    return root


def zero_commitment(padded_size: int) -> bytes:
    """Root of an all-zero tree of `padded_size` bytes (a power of two, at least one 32-byte leaf).

    This is the CommP of a zero piece and the CommD of an empty sector of that size.
    """
    height = _check_tree_size(padded_size, "zero commitment size").bit_length() - 1 - 5
    return _zero_roots()[height]


def comm_d_from_pieces(pieces: Sequence[tuple[bytes, int]], sector_size: int) -> bytes:
    """CommD of a sector holding `pieces` (commitment, padded piece size) in order, zeros elsewhere.

    Each piece is placed at the next offset that is a multiple of its own size (rust-fil-proofs
    `compute_comm_d`), and the tree is completed with zero subtrees up to the sector size, as the chain's
    `compute_unsealed_sector_cid` does. An empty list gives the sector's zero commitment.
    """
    check_piece_size(sector_size, "sector size")
    stack: list[tuple[bytes, int]] = []
    for number, (comm, size) in enumerate(pieces, start=1):
        _check_comm(comm, f"piece {number}")
        check_piece_size(size, f"size of piece {number}")
        while stack and stack[-1][1] < size:
            _push_and_reduce(stack, (zero_commitment(stack[-1][1]), stack[-1][1]))
        _push_and_reduce(stack, (comm, size))
    used = sum(size for _, size in stack)
    if used > sector_size:
        raise ValueError(f"the pieces need {used} bytes once aligned, more than the sector size {sector_size}")
    if not stack:
        return zero_commitment(sector_size)
    while len(stack) > 1 or stack[0][1] < sector_size:
        _push_and_reduce(stack, (zero_commitment(stack[-1][1]), stack[-1][1]))
    return stack[0][0]


def _push_and_reduce(stack: list[tuple[bytes, int]], entry: tuple[bytes, int]) -> None:
    stack.append(entry)
    while len(stack) > 1 and stack[-1][1] == stack[-2][1]:
        right, size = stack.pop()
        left, _ = stack.pop()
        stack.append((hash_node(left, right), 2 * size))


def root_of_chunks(
    piece_size: int,
    input_size: int,
    subtree: Callable[[int, int], bytes],
    *,
    fr32: bool = False,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> bytes:
    """Fold the roots of the piece's chunks; `subtree(input_offset, padded_len)` hashes one chunk."""
    chunk = min(piece_size, _backend.chunk_size())
    input_per_chunk = chunk * 127 // 128 if fr32 else chunk
    roots = []
    for index in range(piece_size // chunk):
        offset = index * input_per_chunk
        if offset >= input_size:
            roots.append(zero_commitment(chunk))
            continue
        if cancel is not None:
            cancel.check("hashing")
        roots.append(subtree(offset, chunk))
        if progress is not None:
            progress(min(offset + input_per_chunk, input_size), input_size)
    return fold_roots(roots)


def fold_roots(roots: list[bytes]) -> bytes:
    """The root over equal subtrees given by their roots, left to right (a power-of-two count)."""
    while len(roots) > 1:
        roots = [hash_node(roots[index], roots[index + 1]) for index in range(0, len(roots), 2)]
    return roots[0]


def _check_tree_size(size: int, what: str) -> int:
    if size < NODE_SIZE or size & (size - 1) or size > NODE_SIZE << _MAX_TREE_HEIGHT:
        raise ValueError(f"{what} must be a power-of-two number of 32-byte leaves, got {size} bytes")
    return size


def _check_comm(comm: bytes, what: str) -> None:
    if not isinstance(comm, bytes | bytearray) or len(comm) != NODE_SIZE:
        raise ValueError(f"{what}: a commitment is 32 bytes, got {comm!r}")


def check_threads(threads: int | None) -> int | None:
    """`threads` as given by a caller: None (whatever the budget has free) or a positive integer."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return threads


@lru_cache(maxsize=1)
def _zero_roots() -> tuple[bytes, ...]:
    roots = [bytes(NODE_SIZE)]
    for _ in range(_MAX_TREE_HEIGHT):
        roots.append(hash_node(roots[-1], roots[-1]))
    return tuple(roots)

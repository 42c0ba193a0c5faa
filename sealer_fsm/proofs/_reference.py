"""Pure-Python reference of the hashing primitives, written for clarity rather than speed.

It is the specification the C extension is tested against, and the fallback when the extension is missing,
so every function here mirrors one entry point of `_native.c` with the same arguments and results.
"""

from __future__ import annotations

import hashlib
import os

FR32_DATA_BLOCK = 127
FR32_PADDED_BLOCK = 128
NODE_SIZE = 32
_CHUNK_MASK = (1 << 254) - 1


def hash_node(left: bytes, right: bytes) -> bytes:
    """SHA-256 of the two children with the top two bits cleared, so the node is a BLS12-381 field element."""
    digest = hashlib.sha256(left + right).digest()
    return digest[:31] + bytes((digest[31] & 0x3F,))


def fr32_pad(data: bytes) -> bytes:
    """Spread each 127-byte block's 1016 bits over four 32-byte chunks of 254 bits (top two bits zero)."""
    _check_whole_blocks(len(data), FR32_DATA_BLOCK, "fr32_pad")
    out = bytearray()
    for start in range(0, len(data), FR32_DATA_BLOCK):
        block = int.from_bytes(data[start : start + FR32_DATA_BLOCK], "little")
        for chunk in range(4):
            out += ((block >> (254 * chunk)) & _CHUNK_MASK).to_bytes(NODE_SIZE, "little")
    return bytes(out)


def fr32_unpad(data: bytes) -> bytes:
    """Inverse of `fr32_pad`: keep the low 254 bits of each 32-byte chunk and re-join them.

    The two top bits of each chunk are dropped, whatever they hold, as rust-fil-proofs does.
    """
    _check_whole_blocks(len(data), FR32_PADDED_BLOCK, "fr32_unpad")
    out = bytearray()
    for start in range(0, len(data), FR32_PADDED_BLOCK):
        block = 0
        for chunk in range(4):
            offset = start + NODE_SIZE * chunk
            value = int.from_bytes(data[offset : offset + NODE_SIZE], "little") & _CHUNK_MASK
            block |= value << (254 * chunk)
        out += block.to_bytes(FR32_DATA_BLOCK, "little")
    return bytes(out)


def tree_root(padded: bytes) -> bytes:
    """Root of the binary tree whose leaves are the 32-byte chunks of `padded` (a power-of-two count)."""
    nodes = [bytes(padded[start : start + NODE_SIZE]) for start in range(0, len(padded), NODE_SIZE)]
    while len(nodes) > 1:
        nodes = [hash_node(nodes[index], nodes[index + 1]) for index in range(0, len(nodes), 2)]
    return nodes[0]


def hash_level(children: bytes | bytearray | memoryview) -> bytes:
    """One row of a binary tree from the row below: node i is the hash of children 2i and 2i+1."""
    nodes = bytes(children)
    return b"".join(
        hash_node(nodes[start : start + NODE_SIZE], nodes[start + NODE_SIZE : start + 2 * NODE_SIZE])
        for start in range(0, len(nodes), 2 * NODE_SIZE)
    )


def subtree_root_of_buffer(data: bytes | bytearray, offset: int, padded_len: int, fr32: bool) -> bytes:
    """Root over `padded_len` padded bytes taken from `data` at `offset`, zero-filled past its end.

    With `fr32` the bytes are raw payload (padded_len·127/128 of them are read and padded); without, they
    are already padded leaves.
    """
    wanted = padded_len * FR32_DATA_BLOCK // FR32_PADDED_BLOCK if fr32 else padded_len
    return _root_of_input(bytes(data[offset : offset + wanted]), wanted, fr32)


def subtree_root_of_fd(fd: int, data_end: int, offset: int, padded_len: int, fr32: bool) -> bytes:
    """Like `subtree_root_of_buffer`, reading the file `fd` up to `data_end` instead of a buffer.

    EOFError when the file ends before `data_end`: it shrank since its size was taken."""
    wanted = padded_len * FR32_DATA_BLOCK // FR32_PADDED_BLOCK if fr32 else padded_len
    data = b""
    if offset < data_end:
        expected = min(wanted, data_end - offset)
        while len(data) < expected:
            got = os.pread(fd, expected - len(data), offset + len(data))
            if not got:
                raise EOFError(f"the file ended before the {data_end} bytes it had when hashing began")
            data += got
    return _root_of_input(data, wanted, fr32)


def _root_of_input(data: bytes, wanted: int, fr32: bool) -> bytes:
    data = data.ljust(wanted, b"\0")
    return tree_root(fr32_pad(data) if fr32 else data)


def _check_whole_blocks(length: int, block: int, function: str) -> None:
    if length % block:
        raise ValueError(f"{function} needs whole {block}-byte blocks, got {length} bytes")

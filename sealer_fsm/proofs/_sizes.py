"""Fr32 size arithmetic: how many bytes a payload takes once padded, and which power-of-two piece holds it.

Fr32 padding inserts two zero bits after every 254 data bits, so 127 bytes become 128. The general formulas
below are rust-fil-proofs' (`fr32/src/padding.rs`), which also cover lengths that are not whole 127-byte
blocks; on piece sizes they reduce to 127·2^k <-> 128·2^k.
"""

from __future__ import annotations

MIN_PIECE_SIZE = 128
"""The smallest padded piece: one Fr32 block of four 32-byte leaves."""


def padded_size(unpadded: int) -> int:
    """Bytes that `unpadded` data bytes occupy after Fr32 padding (127 -> 128, 2032 -> 2048)."""
    _check_non_negative(unpadded, "unpadded size")
    bits = 8 * unpadded
    padded_bits = 256 * (bits // 254) + bits % 254
    return -(-padded_bits // 8)


def unpadded_size(padded: int) -> int:
    """Data bytes that fit in `padded` Fr32-padded bytes (128 -> 127, 32GiB -> 34,091,302,912)."""
    _check_non_negative(padded, "padded size")
    bits = 8 * padded
    return (254 * (bits // 256) + bits % 256) // 8


def is_piece_size(size: int) -> bool:
    """Whether `size` is a valid padded piece or sector size: a power of two of at least 128 bytes."""
    return size >= MIN_PIECE_SIZE and size & (size - 1) == 0


def check_piece_size(size: int, what: str = "piece size") -> int:
    """Return `size` if it is a valid padded piece size, else raise ValueError naming the value."""
    if isinstance(size, bool) or not isinstance(size, int) or not is_piece_size(size):
        raise ValueError(f"{what} must be a power of two of at least {MIN_PIECE_SIZE} bytes, got {size!r}")
    return size


def piece_size_for_payload(payload_len: int) -> int:
    """The padded piece size of a raw payload: the smallest 128·2^k whose 127·2^k data bytes hold it.

    The payload is zero-filled up to 127·2^k bytes before padding (lotus/FRC-0069 CommP semantics), so a
    payload of 0..127 bytes is a 128-byte piece and a 1 KiB payload is a 2 KiB piece.
    """
    _check_non_negative(payload_len, "payload length")
    size = MIN_PIECE_SIZE
    while unpadded_size(size) < payload_len:
        size *= 2
    return size


def _check_non_negative(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")

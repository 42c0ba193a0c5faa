"""Fr32 padding of whole blocks, on the fastest backend available."""

from __future__ import annotations

from sealer_fsm.proofs import _backend


def fr32_pad(data: bytes) -> bytes:
    """Pad whole 127-byte blocks to 128 bytes: every 254 data bits get two zero bits, so each 32-byte chunk is
    a BLS12-381 field element. ValueError when the length is not a multiple of 127."""
    return _backend.fr32_pad(data)


def fr32_unpad(data: bytes) -> bytes:
    """Undo `fr32_pad` on whole 128-byte blocks (the top two bits of each chunk are ignored).
    ValueError when the length is not a multiple of 128."""
    return _backend.fr32_unpad(data)

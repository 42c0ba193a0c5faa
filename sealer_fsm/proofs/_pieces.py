"""Where a sector's pieces lie: the layout AddPiece writes and CommD is computed over.

Each deal's piece starts at the next offset that is a multiple of its own (padded) size, as rust-fil-proofs'
`get_piece_alignment` places it; pledge (zero) pieces fill the gaps and the tail. The sector manager and the
sealing steps both use it, so the chain's view of a sector's pieces is the worker's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One piece of the staged sector: its padded size and the deal it holds (None for pledge zeros)."""

    size: int
    deal: int | None


def piece_layout(deal_sizes: list[int], sector_size: int) -> list[Slot]:
    """The sector's pieces in order: each deal at the next multiple of its own size, pledge pieces elsewhere.

    Pledge pieces are the largest aligned powers of two that fill each gap, so the slots tile the sector and
    `comm_d_from_pieces` over them gives the staged sector's root. ValueError when the deals do not fit.
    """
    slots: list[Slot] = []
    offset = 0
    for index, size in enumerate(deal_sizes):
        start = -(-offset // size) * size
        slots += _pledge_slots(offset, start)
        slots.append(Slot(size, index))
        offset = start + size
    if offset > sector_size:
        raise ValueError(f"the deals need {offset} bytes once aligned, more than the sector's {sector_size}")
    return slots + _pledge_slots(offset, sector_size)


def _pledge_slots(start: int, end: int) -> list[Slot]:
    slots = []
    while start < end:
        size = start & -start if start else end
        while start + size > end:
            size //= 2
        slots.append(Slot(size, None))
        start += size
    return slots


def piece_offsets(slots: list[Slot]) -> list[int]:
    """The padded byte offset of each slot (the slots tile the sector in order)."""
    offsets, offset = [], 0
    for slot in slots:
        offsets.append(offset)
        offset += slot.size
    return offsets

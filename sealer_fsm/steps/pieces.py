"""Real steps: stage deal data (or pledge zeros) into the sector and build TreeD, giving CommD.

Both are bit-compatible with the Filecoin reference (reference-proofs.md sections 1 and 2): pieces are Fr32
padded and laid out at offsets that are multiples of their own size (rust-fil-proofs `get_piece_alignment`,
expressed in padded bytes), zero (pledge) pieces fill the gaps and the tail, and CommD is the sha256-trunc254
root of the staged sector, checked against `comm_d_from_pieces` of the recorded pieces. TreeD is stored whole in
the sector's cache folder, where C1 opens the data nodes' inclusion paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sealer_fsm import proofs
from sealer_fsm.manager import Deal
from sealer_fsm.proofs import (
    CancelToken,
    Slot,
    comm_d_from_pieces,
    commp_bytes,
    fr32_pad,
    parse_piece_cid,
    piece_cid_v1,
    piece_layout,
    unpadded_size,
    zero_commitment,
)
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import SectorFiles, call, file_errors, manager, temporary_name


def write_staged_sector(
    path: Path, slots: list[Slot], payloads: list[bytes], deals: list[Deal]
) -> list[dict[str, Any]]:
    """Write the Fr32-padded sector to `path` (through a temporary file) and return its pieces for task data."""
    temporary = temporary_name(path)
    with file_errors(f"write the staged sector {path}", writing=path, partial=(temporary,)):
        pieces = _write_slots(temporary, slots, payloads, deals)
        os.replace(temporary, path)
    return pieces


def _write_slots(temporary: Path, slots: list[Slot], payloads: list[bytes], deals: list[Deal]) -> list[dict[str, Any]]:
    pieces: list[dict[str, Any]] = []
    with open(temporary, "wb") as file:
        for slot in slots:
            if slot.deal is None:
                file.seek(slot.size, 1)  # pledge pieces are zeros: leave a hole
                pieces.append({"cid": piece_cid_v1(zero_commitment(slot.size)), "size": slot.size, "deal_id": None})
                continue
            deal, payload = deals[slot.deal], payloads[slot.deal]
            commitment = commp_bytes(payload)
            if commitment.cid != deal.piece_cid or commitment.piece_size != deal.piece_size:
                raise Permanent(f"the data of deal {deal.deal_id} does not match its piece {deal.piece_cid}")
            file.write(fr32_pad(payload.ljust(unpadded_size(slot.size), b"\0")))
            pieces.append({"cid": deal.piece_cid, "size": slot.size, "deal_id": deal.deal_id})
        file.truncate(file.tell())
    return pieces


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


async def add_pieces(ctx: StepContext) -> StepResult:
    """DealsAcquired/Allocated → PieceAdded: stage the sector's data in `data/unsealed/<sector>`."""
    return await stage_deals(ctx, [Deal.from_json(raw) for raw in ctx.require("deals")])


async def stage_deals(ctx: StepContext, deals: list[Deal]) -> Outcome:
    """AddPiece of `deals`: their data and pledge pieces staged in `data/unsealed/<sector>` (replacing what was
    staged before), and the pieces recorded."""
    sector_size = ctx.require("sector_size")
    try:
        slots = piece_layout([deal.piece_size for deal in deals], sector_size)
    except ValueError as error:
        raise Permanent(str(error)) from error
    payloads = [await call("FetchPiece", manager(ctx).fetch_piece(deal.piece_cid)) for deal in deals]
    files = SectorFiles.of(ctx)
    files.prepare()
    pieces = await ctx.run_blocking(write_staged_sector, files.unsealed, slots, payloads, deals)
    staged = f"{_counted(len(deals), 'deal piece')} and {_counted(len(pieces) - len(deals), 'pledge piece')}"
    ctx.log.info("%s: staged %s", files.name, staged)
    return Outcome("AddPiece", {"pieces": pieces})


def _write_tree_d(files: SectorFiles, sector_size: int, cancel: CancelToken) -> bytes:
    """TreeD of the staged sector, stored whole in the sector's cache folder for C1 (as rust-fil-proofs' PC1
    stores it); returns its root."""
    with file_errors(f"build TreeD of the staged sector {files.unsealed} into {files.cache}", writing=files.cache):
        return proofs.build_tree_d(files.cache, sector_size, files.unsealed, cancel=cancel)


def pieces_comm_d(pieces: list[dict[str, Any]], sector_size: int) -> bytes:
    """CommD recomputed from the recorded pieces alone (the chain's rule), independent of the staged file."""
    return comm_d_from_pieces([(parse_piece_cid(piece["cid"]), piece["size"]) for piece in pieces], sector_size)


async def build_tree_d(ctx: StepContext) -> StepResult:
    """PieceAdded → TreeDBuilt: TreeD of the staged sector, written to `cache/<sector>/sc-02-data-tree-d.dat`
    for C1; its root, CommD, must match the sector's pieces. Run again, it rebuilds the tree from the data."""
    files = SectorFiles.of(ctx)
    if not files.unsealed.is_file():
        stage_state = next((name for name, spec in ctx.plan.states.items() if spec.step == "add_pieces"), "?")
        raise Permanent(f"the staged file {files.unsealed} is missing; resume the thread into {stage_state}")
    try:
        comm_d = await ctx.run_blocking(_write_tree_d, files, ctx.require("sector_size"), ctx.cancel_token)
    except ValueError as error:  # a staged file of the wrong size
        raise Permanent(f"TreeD: {error}") from error
    expected = pieces_comm_d(ctx.require("pieces"), ctx.require("sector_size"))
    if comm_d != expected:
        raise Permanent(f"TreeD root {comm_d.hex()} differs from the CommD of the sector's pieces {expected.hex()}")
    return Outcome("BuildTreeD", {"comm_d": comm_d.hex(), "comm_d_cid": piece_cid_v1(comm_d)})

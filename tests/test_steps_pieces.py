"""add_pieces and build_tree_d against the Filecoin reference: alignment, zero commitments, CommD from pieces."""

from __future__ import annotations

import asyncio
from pathlib import Path

from _devnet_helpers import FakeContext, ManualClock, devnet_config
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.manager.devnet import DevnetManager, deal_payload
from sealer_fsm.proofs import comm_d_from_pieces, commp_bytes, piece_cid_v1, unpadded_size
from sealer_fsm.runtime import Outcome
from sealer_fsm.steps.pieces import Slot, add_pieces, build_tree_d, piece_layout

ZERO_2KIB = "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833"  # reference-proofs.md 2.1
ZERO_8KIB = "b2e47bfb11facd941f62af5c750f3ea5cc4df517d5c4f16db2b4d77baec1a32f"


def unpadded_alignment(written: int, piece: int) -> tuple[int, int]:
    """rust-fil-proofs get_piece_alignment, as reference-proofs.md section 2 states it (unpadded bytes)."""
    size = 127
    while size < piece:
        size *= 2
    left = (size - written % size) % size
    return left, size - piece


def test_alignment_matches_the_reference_examples() -> None:
    examples = {(0, 0): (0, 127), (0, 127): (0, 0), (127, 254): (127, 0), (127, 508): (381, 0)}
    for (written, piece), expected in examples.items():
        assert unpadded_alignment(written, piece) == expected
    # The same layouts in padded bytes: a 256-byte piece after a 128-byte one starts at 256 (left pad 128).
    assert piece_layout([128, 256], 1024) == [Slot(128, 0), Slot(128, None), Slot(256, 1), Slot(512, None)]
    assert piece_layout([128, 512], 1024) == [Slot(128, 0), Slot(128, None), Slot(256, None), Slot(512, 1)]


@given(st.lists(st.sampled_from([128, 256, 512, 1024, 2048]), max_size=6), st.sampled_from([2048, 4096, 8192]))
def test_layout_tiles_the_sector_with_aligned_deals_in_order(deal_sizes: list[int], sector_size: int) -> None:
    try:
        slots = piece_layout(deal_sizes, sector_size)
    except ValueError:
        offset = 0
        for size in deal_sizes:
            offset = -(-offset // size) * size + size
        assert offset > sector_size
        return
    assert sum(slot.size for slot in slots) == sector_size
    assert [slot.deal for slot in slots if slot.deal is not None] == list(range(len(deal_sizes)))
    offset = deal_end = 0
    for slot in slots:
        assert offset % slot.size == 0, "every piece sits at a multiple of its own size"
        if slot.deal is not None:
            assert slot.size == deal_sizes[slot.deal]
            # where the reference's alignment rule puts the piece, counting in unpadded bytes
            left, right = unpadded_alignment(unpadded_size(deal_end), unpadded_size(slot.size))
            assert (left, right) == (unpadded_size(offset) - unpadded_size(deal_end), 0)
            deal_end = offset + slot.size
        offset += slot.size


def stage(tmp_path: Path, sector_size: int, with_deals: bool) -> tuple[FakeContext, DevnetManager, list]:
    devnet = DevnetManager(devnet_config(sector_size=sector_size, seed=3), tmp_path, {}, now=ManualClock().now)
    deals = []
    while with_deals and not deals:
        sector = asyncio.run(devnet.allocate_sector(None, None))
        deals = asyncio.run(devnet.acquire_deals(sector.id, None))
    if not with_deals:
        sector = asyncio.run(devnet.allocate_sector(None, None))
    data = {**sector.task_data(), "deals": [deal.to_json() for deal in deals]}
    return FakeContext(data, {"manager": devnet}, tmp_path / "thread"), devnet, deals


def run_pieces_and_tree(ctx: FakeContext) -> bytes:
    added = asyncio.run(add_pieces(ctx))
    assert isinstance(added, Outcome) and added.event == "AddPiece"
    ctx.data.update(added.data)
    built = asyncio.run(build_tree_d(ctx))
    assert isinstance(built, Outcome) and built.event == "BuildTreeD"
    assert built.data["comm_d_cid"] == piece_cid_v1(bytes.fromhex(built.data["comm_d"]))
    return bytes.fromhex(built.data["comm_d"])


def test_a_cc_sector_has_the_zero_commitment(tmp_path: Path) -> None:
    for size, vector in ((2048, ZERO_2KIB), (8192, ZERO_8KIB)):
        ctx, _, _ = stage(tmp_path / str(size), size, with_deals=False)
        assert run_pieces_and_tree(ctx).hex() == vector
        staged = ctx.location / "data" / "unsealed" / ctx.data["sector_id"]
        assert staged.read_bytes() == bytes(size)


def test_comm_d_of_a_deal_sector_equals_an_independent_recomputation(tmp_path: Path) -> None:
    ctx, _, deals = stage(tmp_path, 2048, with_deals=True)
    comm_d = run_pieces_and_tree(ctx)
    independent = [(commp_bytes(deal_payload(3, d.deal_id, d.payload_size)).comm, d.piece_size) for d in deals]
    assert comm_d == comm_d_from_pieces(independent, 2048)
    assert comm_d.hex() != ZERO_2KIB
    assert [piece["deal_id"] for piece in ctx.data["pieces"] if piece["deal_id"]] == [d.deal_id for d in deals]


def test_a_rerun_of_add_pieces_rewrites_the_same_staged_file(tmp_path: Path) -> None:
    ctx, _, _ = stage(tmp_path, 2048, with_deals=True)
    first = asyncio.run(add_pieces(ctx))
    staged = ctx.location / "data" / "unsealed" / ctx.data["sector_id"]
    content = staged.read_bytes()
    staged.write_bytes(b"half a file")
    assert asyncio.run(add_pieces(ctx)) == first
    assert staged.read_bytes() == content

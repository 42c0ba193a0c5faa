"""The commitments API as the sealing steps use it: sizes, Fr32, CommD from pieces, CIDs, and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    comm_d_from_pieces,
    commp_bytes,
    commp_file,
    fr32_pad,
    fr32_unpad,
    padded_size,
    parse_piece_cid,
    parse_sealed_cid,
    piece_cid_v1,
    piece_cid_v2,
    piece_size_for_payload,
    sealed_cid,
    tree_root,
    tree_root_of_file,
    unpadded_size,
    zero_commitment,
)

SECTOR_UNPADDED = {
    2048: 2032,
    8 << 20: 8_323_072,
    512 << 20: 532_676_608,
    32 << 30: 34_091_302_912,
    64 << 30: 68_182_605_824,
}


@pytest.mark.parametrize(("padded", "unpadded"), SECTOR_UNPADDED.items())
def test_sector_sizes_convert_both_ways(padded: int, unpadded: int) -> None:
    assert unpadded_size(padded) == unpadded
    assert padded_size(unpadded) == padded


@pytest.mark.parametrize(
    ("payload", "piece"),
    [(0, 128), (1, 128), (127, 128), (128, 256), (1016, 1024), (1017, 2048), (1024, 2048)],
)
def test_piece_size_for_payload_is_the_smallest_power_of_two_that_holds_it(payload: int, piece: int) -> None:
    assert piece_size_for_payload(payload) == piece


def test_fr32_pads_all_ones_to_chunks_with_two_clear_top_bits() -> None:
    assert fr32_pad(b"\xff" * 127) == (b"\xff" * 31 + b"\x3f") * 4


@given(st.integers(0, 8).flatmap(lambda blocks: st.binary(min_size=127 * blocks, max_size=127 * blocks)))
def test_fr32_unpad_inverts_pad(data: bytes) -> None:
    padded = fr32_pad(data)
    assert len(padded) == padded_size(len(data))
    assert all(padded[index] < 0x40 for index in range(31, len(padded), 32))
    assert fr32_unpad(padded) == data


@pytest.mark.parametrize(("function", "length"), [(fr32_pad, 128), (fr32_unpad, 127)])
def test_fr32_refuses_partial_blocks(function, length: int) -> None:
    with pytest.raises(ValueError, match=f"got {length} bytes"):
        function(bytes(length))


def _lay_out(pieces: list[bytes], sector_size: int) -> bytes:
    """The staged sector the add-pieces step writes: each piece aligned to its own size, zeros elsewhere."""
    sector = bytearray(sector_size)
    offset = 0
    for piece in pieces:
        offset = -(-offset // len(piece)) * len(piece)
        sector[offset : offset + len(piece)] = piece
        offset += len(piece)
    return bytes(sector)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from([128, 256, 512, 1024]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        max_size=5,
    )
)
def test_comm_d_from_pieces_equals_the_root_of_the_laid_out_sector(pieces: list[bytes]) -> None:
    sector = _lay_out(pieces, 8192)
    listed = [(tree_root(piece), len(piece)) for piece in pieces]
    assert comm_d_from_pieces(listed, 8192) == tree_root(sector)


def test_comm_d_refuses_pieces_larger_than_the_sector() -> None:
    pieces = [(zero_commitment(1024), 1024), (zero_commitment(2048), 2048)]
    with pytest.raises(ValueError, match="4096 bytes once aligned, more than the sector size 2048"):
        comm_d_from_pieces(pieces, 2048)


@pytest.mark.parametrize("size", [0, 64, 3000, 2049])
def test_comm_d_refuses_a_sector_size_that_is_not_a_power_of_two(size: int) -> None:
    expected = f"sector size must be a power of two of at least 128 bytes, got {size}"
    with pytest.raises(ValueError, match=expected):
        comm_d_from_pieces([], size)


def test_piece_cid_v2_records_padding_and_height() -> None:
    commitment = commp_bytes(b"x" * 1000)
    assert commitment.piece_size == 1024
    assert commitment.cid_v2.startswith("bafkzcib")
    assert parse_piece_cid(commitment.cid_v2) == commitment.comm
    assert piece_cid_v2(commitment.comm, 1016, 1024) != commitment.cid_v2


def test_piece_cid_v2_refuses_a_payload_larger_than_the_piece() -> None:
    with pytest.raises(ValueError, match="1017 bytes does not fit a piece of 1024"):
        piece_cid_v2(bytes(32), 1017, 1024)


@given(st.binary(min_size=32, max_size=32))
def test_cids_round_trip(comm: bytes) -> None:
    assert parse_piece_cid(piece_cid_v1(comm)) == comm
    assert parse_sealed_cid(sealed_cid(comm)) == comm
    assert sealed_cid(comm).startswith("bagboea4b5abc")
    assert piece_cid_v1(comm).startswith("baga6ea4seaq")


NOT_PIECE_CIDS = [
    "",
    "Qmfoo",
    "bnot-base32!",
    "baaaa",
    "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
]


@pytest.mark.parametrize("cid", NOT_PIECE_CIDS)
def test_parse_piece_cid_names_the_bad_value(cid: str) -> None:
    with pytest.raises(ValueError, match=repr(cid).replace("(", r"\(")):
        parse_piece_cid(cid)


def test_a_piece_cid_is_not_a_sealed_cid() -> None:
    cid = piece_cid_v1(bytes(32))
    with pytest.raises(ValueError, match="not a sealed CID"):
        parse_sealed_cid(cid)


def test_commp_file_matches_commp_bytes_and_reports_progress(tmp_path) -> None:
    payload = bytes(range(256)) * 40
    path = tmp_path / "payload.car"
    path.write_bytes(payload)
    seen: list[tuple[int, int]] = []
    assert commp_file(path, progress=lambda done, total: seen.append((done, total))) == commp_bytes(payload)
    assert seen[-1] == (len(payload), len(payload))


def test_tree_root_of_file_is_the_root_of_its_bytes(tmp_path) -> None:
    sector = bytes(range(256)) * 8
    path = tmp_path / "staged"
    path.write_bytes(sector)
    assert tree_root_of_file(path) == tree_root(sector)


def test_tree_root_of_file_refuses_a_size_that_is_not_a_power_of_two(tmp_path) -> None:
    path = tmp_path / "staged"
    path.write_bytes(bytes(3000))
    expected = f"size of {path} must be a power-of-two number of 32-byte leaves, got 3000"
    with pytest.raises(ValueError, match=expected):
        tree_root_of_file(path)

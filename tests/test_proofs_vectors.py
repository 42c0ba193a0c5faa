"""Outside vectors: reference-proofs.md §2.1 on whichever backend this machine runs; go-fil-commcid and
go-fil-commp-hashhash on every backend (tests/data/vectors/README.md); and a cross-check of the backends on
more than one C chunk of random data."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sealer_fsm.proofs import (
    PieceCommitment,
    available_backends,
    comm_d_from_pieces,
    commp_bytes,
    commp_file,
    fr32_pad,
    hash_node,
    parse_piece_cid,
    piece_cid_size,
    piece_cid_v1,
    piece_cid_v2,
    piece_size_for_payload,
    tree_root,
    unpadded_size,
    use_backend,
    zero_commitment,
)
from sealer_fsm.units import parse_size
from tests.conftest import DATA

# go-commp-utils zerocomm.PieceComms: (padded size, unpadded size, root of an all-zero piece).
ZERO_TABLE = [
    ("128B", 127, "3731bb99ac689f66eef5973e4a94da188f4ddcae580724fc6f3fd60dfd488333"),
    ("256B", 254, "642a607ef886b004bf2c1978463ae1d4693ac0f410eb2d1b7a47fe205e5e750f"),
    ("512B", 508, "57a2381a28652bf47f6bef7aca679be4aede5871ab5cf3eb2c08114488cb8526"),
    ("1KiB", 1016, "1f7ac9595510e09ea41c460b176430bb322cd6fb412ec57cb17d989a4310372f"),
    ("2KiB", 2032, "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833"),
    ("4KiB", 4064, "08c47b38ee13bc43f41b915c0eed9911a26086b3ed62401bf9d58b8d19dff624"),
    ("8KiB", 8128, "b2e47bfb11facd941f62af5c750f3ea5cc4df517d5c4f16db2b4d77baec1a32f"),
    ("16KiB", 16256, "f9226160c8f927bfdcc418cdf203493146008eaefb7d02194d5e548189005108"),
    ("32KiB", 32512, "2c1a964bb90b59ebfe0f6da29ad65ae3e417724a8f7c11745a40cac1e5e74011"),
    ("64KiB", 65024, "fee378cef16404b199ede0b13e11b624ff9d784fbbed878d83297e795e024f02"),
    ("128KiB", 130048, "8e9e2403fa884cf6237f60df25f83ee40dca9ed879eb6f6352d15084f5ad0d3f"),
    ("256KiB", 260096, "752d9693fa167524395476e317a98580f00947afb7a30540d625a9291cc12a07"),
    ("512KiB", 520192, "7022f60f7ef6adfa17117a52619e30cea82c68075adf1c667786ec506eef2d19"),
    ("1MiB", 1040384, "d99887b973573a96e11393645236c17b1f4c7034d723c7a99f709bb4da61162b"),
    ("2MiB", 2080768, "d0b530dbb0b4f25c5d2f2a28dfee808b53412a02931f18c499f5a254086b1326"),
    ("4MiB", 4161536, "84c0421ba0685a01bf795a2344064fe424bd52a9d24377b394ff4c4b4568e811"),
    ("8MiB", 8323072, "65f29e5d98d246c38b388cfc06db1f6b021303c5a289000bdce832a9c3ec421c"),
    ("16MiB", 16646144, "a2247508285850965b7e334b3127b0c042b1d046dc54402137627cd8799ce13a"),
    ("32MiB", 33292288, "dafdab6da9364453c26d33726b9fefe343be8f81649ec009aad3faff50617508"),
    ("64MiB", 66584576, "d941d5e0d6314a995c33ffbd4fbe69118d73d4e5fd2cd31f0f7c86ebdd14e706"),
    ("128MiB", 133169152, "514c435c3d04d349a5365fbd59ffc713629111785991c1a3c53af22079741a2f"),
    ("256MiB", 266338304, "ad06853969d37d34ff08e09f56930a4ad19a89def60cbfee7e1d3381c1e71c37"),
    ("512MiB", 532676608, "39560e7b13a93b07a243fd2720ffa7cb3e1d2e505ab3629e79f46313512cda06"),
    ("1GiB", 1065353216, "ccc3c012f5b05e811a2bbfdd0f6833b84275b47bf229c0052a82484f3c1a5b3d"),
    ("2GiB", 2130706432, "7df29b69773199e8f2b40b77919d048509eed768e2c7297b1f1437034fc3c62c"),
    ("4GiB", 4261412864, "66ce05a3667552cf45c02bcc4e8392919bdeac35de2ff56271848e9f7b675107"),
    ("8GiB", 8522825728, "d8610218425ab5e95b1ca6239d29a2e420d706a96f373e2f9c9a91d759d19b01"),
    ("16GiB", 17045651456, "6d364b1ef846441a5a4a68862314acc0a46f016717e53443e839eedf83c2853c"),
    ("32GiB", 34091302912, "077e5fde35c50a9303a55009e3498a4ebedff39c42b710b730d8ec7ac7afa63e"),
    ("64GiB", 68182605824, "e64005a6bfe3777953b8ad6ef93f0fca1049b2041654f2a411f7702799cece02"),
]

ZERO_PIECE_CIDS = {
    "8MiB": "baga6ea4seaqgl4u6lwmnerwdrm4iz7ag3mpwwaqtapc2fciabpooqmvjypweeha",
    "512MiB": "baga6ea4seaqdsvqopmj2soyhujb72jza76t4wpq5fzifvm3ctz47iyytkewnubq",
    "32GiB": "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq",
    "64GiB": "baga6ea4seaqomqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq",
}


@pytest.mark.parametrize(("padded", "unpadded", "root"), ZERO_TABLE)
def test_zero_table_row(padded: str, unpadded: int, root: str) -> None:
    size = parse_size(padded)
    assert unpadded_size(size) == unpadded
    assert zero_commitment(size).hex() == root


@pytest.mark.parametrize(("padded", "cid"), ZERO_PIECE_CIDS.items())
def test_zero_piece_cid(padded: str, cid: str) -> None:
    assert piece_cid_v1(zero_commitment(parse_size(padded))) == cid
    assert parse_piece_cid(cid) == zero_commitment(parse_size(padded))


@pytest.mark.parametrize(("padded", "_unpadded", "root"), ZERO_TABLE[:14])
def test_zero_table_rows_up_to_1mib_match_hashing_zeros(padded: str, _unpadded: int, root: str) -> None:
    """The table is not only self-consistent: hashing a real zero buffer gives the same roots."""
    assert tree_root(bytes(parse_size(padded))).hex() == root


@pytest.mark.parametrize(
    ("payload_len", "piece_size", "cid"),
    [
        (127, 128, "baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"),
        (1024, 2048, "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"),
    ],
)
def test_go_fil_commp_hashhash_zero_rows(payload_len: int, piece_size: int, cid: str) -> None:
    commitment = commp_bytes(bytes(payload_len))
    assert commitment.piece_size == piece_size
    assert commitment.payload_size == payload_len
    assert commitment.cid == cid


def test_frc_0069_first_case() -> None:
    payload = bytes([0] * 127 + [1] * 127 + [2] * 127 + [3] * 127)
    commitment = commp_bytes(payload)
    assert commitment.comm.hex() == "496dae0cc9e265efe5a006e80626a5dc5c409e5d3155c13984caf6c8d5cfd605"
    assert commitment.cid == "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
    assert commitment.cid_v2 == "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
    assert parse_piece_cid(commitment.cid_v2) == commitment.comm


@pytest.mark.parametrize(
    ("sector_size", "root"),
    [
        (2048, "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833"),
        (128, "3731bb99ac689f66eef5973e4a94da188f4ddcae580724fc6f3fd60dfd488333"),
    ],
)
def test_rust_compute_comm_d_of_no_pieces(sector_size: int, root: str) -> None:
    assert comm_d_from_pieces([], sector_size).hex() == root


# go-fil-commcid commcid_test.go (@dc003f47) TestMultihashes / TestPieceMhCIDandV1CIDPieceCommitmentConverters:
# 127 bytes each of 0, 1, 2, 3, then zeros; the v1 CID ignores the trailing zeros of the first two (same tree),
# the v2 CID records the payload size (padding) and the tree height.
FRC_0069_DATA = bytes([0] * 127 + [1] * 127 + [2] * 127 + [3] * 127)
GO_FIL_COMMCID = [
    (FRC_0069_DATA, "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi",
     "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"),
    (FRC_0069_DATA + bytes(127 * 4), "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibcaac542av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa"),
    (FRC_0069_DATA + bytes(4), "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibd7abqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4"),
    (FRC_0069_DATA + bytes(5), "baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa",
     "bafkzcibd64bqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4"),
]  # fmt: skip


@contextmanager
def running_on(backend: str) -> Iterator[None]:
    use_backend(backend)
    try:
        yield
    finally:
        use_backend("best")


@pytest.fixture(params=available_backends())
def every_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with running_on(request.param):
        yield request.param


@pytest.mark.parametrize(("payload", "cid", "cid_v2"), GO_FIL_COMMCID, ids=["0123", "127x4-0s", "4-0s", "5-0s"])
def test_go_fil_commcid_non_zero_payloads(every_backend: str, payload: bytes, cid: str, cid_v2: str) -> None:
    commitment = commp_bytes(payload)
    assert (commitment.cid, commitment.cid_v2, commitment.payload_size) == (cid, cid_v2, len(payload))
    assert parse_piece_cid(cid_v2) == parse_piece_cid(cid) == commitment.comm
    assert piece_cid_size(cid_v2) == commitment.piece_size and piece_cid_size(cid) is None


@pytest.mark.parametrize(
    ("cid", "payload_size", "cid_v2"),
    [  # "empty32GiB" and "empty64GiB": v1 CID plus payload size -> v2 CID, without any data
        ("baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq", (32 << 30) * 127 // 128,
         "bafkzcibcaapao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"),
        ("baga6ea4seaqomqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq", (64 << 30) * 127 // 128,
         "bafkzcibcaap6mqafu276g53zko4k23xzh4h4uecjwicbmvhsuqi7o4bhthhm4aq"),
    ],
)  # fmt: skip
def test_go_fil_commcid_v1_to_v2_of_empty_sectors(cid: str, payload_size: int, cid_v2: str) -> None:
    piece_size = piece_size_for_payload(payload_size)
    assert piece_cid_v2(parse_piece_cid(cid), payload_size, piece_size) == cid_v2
    assert piece_cid_size(cid_v2) == piece_size


def _hashhash_rows(name: str) -> list[tuple[int, int, str]]:
    rows = (DATA / "vectors" / f"go-fil-commp-hashhash-{name}.txt").read_text().split()
    return [(int(size), int(piece), cid) for size, piece, cid in (row.split(",") for row in rows)]


@pytest.mark.parametrize(("byte", "name"), [(0x00, "zero"), (0xCC, "0xCC")])
def test_go_fil_commp_hashhash_testdata(every_backend: str, byte: int, name: str) -> None:
    """Every row of go-fil-commp-hashhash's zero.txt and 0xCC.txt (payloads around each piece-size edge)."""
    rows = _hashhash_rows(name)
    assert len(rows) == 18
    for payload_size, piece_size, cid in rows:
        commitment = commp_bytes(bytes([byte]) * payload_size)
        assert (commitment.cid, commitment.piece_size) == (cid, piece_size), payload_size


def test_more_than_one_native_chunk_of_random_data_agrees_on_every_backend(tmp_path: Path) -> None:
    """The multi-chunk path on random data (it was only ever run on zeros): a payload just past one 64 MiB C
    chunk, in memory on every C backend, from a file and through a pipe (8 MiB stream chunks, another cut),
    against the root of the two 64 MiB halves computed apart, each as one plain tree.

    (The pure-Python reference agrees too, but takes 10-20 s on this size: it is cross-checked against the C
    on up to 4 MiB in test_proofs_native.py, and on the vectors above.)"""
    half = unpadded_size(64 << 20)
    payload = os.urandom(half + 4097)
    path = tmp_path / "payload"
    path.write_bytes(payload)
    first_half = tree_root(fr32_pad(payload[:half]))
    second_half = tree_root(fr32_pad(payload[half:].ljust(half, b"\0")))
    expected = PieceCommitment(hash_node(first_half, second_half), len(payload), 128 << 20)
    for backend in (name for name in available_backends() if name != "python"):
        with running_on(backend):
            assert commp_bytes(payload) == expected, backend
    assert commp_file(path) == expected
    with piped(path) as stream:
        assert commp_file(stream) == expected


@contextmanager
def piped(path: Path) -> Iterator[str]:
    """`path`'s bytes through a pipe that `cat` fills (so the read is a real stream), as /dev/fd/N."""
    with open(path, "rb") as source:
        child = subprocess.Popen(["cat"], stdin=source, stdout=subprocess.PIPE)
    assert child.stdout is not None
    try:
        yield f"/dev/fd/{child.stdout.fileno()}"
    finally:
        child.stdout.close()
        child.wait()

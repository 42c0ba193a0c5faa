"""The SDR C extension against outside vectors and against the pure-Python reference.

Outside vectors: ChaCha8 keystreams (draft-strombergson-chacha-test-vectors, 8 rounds, 256-bit key), BLAKE2b
(RFC 7693, and hashlib), SHA-256 (hashlib), the rust-fil-proofs last-label vectors of
`create_label/multi.rs` and the production parent-cache digests of `parent_cache.json`. The reference is
checked against the same vectors, then the C is checked against the reference on random small graphs.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import _sdr_reference as reference

_sdr = pytest.importorskip("sealer_fsm.proofs._sdr", reason="the SDR C extension is not built")

CHACHA8_VECTORS = [  # (key, first two 64-byte blocks of keystream)
    (
        "00" * 32,
        "3e00ef2f895f40d67f5bb8e81f09a5a12c840ec3ce9a7f3b181be188ef711a1e984ce172b9216f419f445367456d5619"
        "314a42a3da86b001387bfdb80e0cfe42d2aefa0deaa5c151bf0adb6c01f2a5adc0fd581259f9a2aadcf20f8fd566a26b"
        "5032ec38bbc5da98ee0c6f568b872a65a08abf251deb21bb4b56e5d8821e68aa",
    ),
    (
        "01" + "00" * 31,
        "cf5ee9a0494aa9613e05d5ed725b804b12f4a465ee635acc3a311de8740489ea289d04f43c7518db56eb4433e498a123"
        "8cd8464d3763ddbb9222ee3bd8fae3c8b4355a7d93dd8867089ee643558b95754efa2bd1a8a1e2d75bcdb32015542638"
        "291941feb49965587c4fdfe219cf0ec132a6cd4dc067392e67982fe53278c0b4",
    ),
]
BLAKE2B_ABC = (
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
)
# create_label/multi.rs: replica id 32 bytes of 09, 11 layers; Fr::from_u64s_le limbs written as little-endian bytes.
LABEL_VECTORS = [  # (nodes, porep id byte, api version, last label of the last layer)
    (64, 0, "1.0.0", [0xD3FAA96B9A0FBA04, 0xEA81A283D106485E, 0xE3D51B9AFA5AC2B3, 0x0462F4F4F1A68D37]),
    (128, 0, "1.0.0", [0x7E191E52C4A8DA86, 0x5AE8A1C9E6FAC148, 0xCE239F3B88A894B8, 0x234C00D1DC1D53BE]),
    (64, 123, "1.1.0", [0xABB3F38BB70DEFCF, 0x777A2E4D7769119F, 0x3448959D495490BC, 0x06021188C7A71CB5]),
    (128, 123, "1.1.0", [0x22AB81CF68C4676D, 0x7A77A82FC7C9C189, 0xC6C03D32C1E42D23, 0x0F777C18CC2C55BD]),
]
# parent_cache.json: SHA-256 of the 2KiB caches of proof ids 0 (API 1.0.0) and 5 (API 1.1.0).
PARENT_CACHE_2KIB = [
    (0, "1.0.0", "3da49221e2ed55371b86d0bf3d6526fcf128af61bed904f966428db1b531750d"),
    (5, "1.1.0", "840057702eea7652cf97e04306c30fe57174714d90de156a25eddd6075c25b97"),
]
LABEL_BACKENDS = list(_sdr.available())


@pytest.fixture(params=LABEL_BACKENDS)
def label_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    _sdr.select(request.param)
    try:
        yield request.param
    finally:
        _sdr.select(LABEL_BACKENDS[0])


def porep_id_of(proof_type: int) -> bytes:
    return proof_type.to_bytes(8, "little") + bytes(24)


def c_parents(porep_id: bytes, nodes: int, api_version: str, threads: int = 1) -> bytes:
    out = bytearray(nodes * 4 * reference.DEGREE)
    keys = struct.pack("<3Q", *reference.feistel_keys(porep_id)[:3])
    assert _sdr.parents(reference.drg_seed(porep_id), keys, nodes, api_version == "1.0.0", out, threads, None)
    return bytes(out)


def c_layers(replica_id: bytes, table: bytes, layers: int, threads: int = 1) -> list[bytes]:
    result: list[bytes] = []
    for layer in range(1, layers + 1):
        labels = bytearray(len(table) // 14 * 8)
        assert _sdr.label_layer(replica_id, layer, table, labels, result[-1] if result else None, None, threads)
        result.append(bytes(labels))
    return result


def padded(message: bytes) -> bytes:
    """SHA-256 padding: 0x80, zeros, the bit length as a big-endian u64."""
    tail = b"\x80" + bytes((55 - len(message)) % 64)
    return message + tail + (8 * len(message)).to_bytes(8, "big")


# -- primitives against outside vectors ---------------------------------------------------------------------


@pytest.mark.parametrize(("key", "keystream"), CHACHA8_VECTORS)
def test_chacha8_matches_the_published_keystreams(key: str, keystream: str) -> None:
    assert _sdr.chacha8(bytes.fromhex(key), 0, 2).hex() == keystream
    words = reference.chacha8_block(bytes.fromhex(key), 0) + reference.chacha8_block(bytes.fromhex(key), 1)
    assert struct.pack("<32I", *words).hex() == keystream


@given(st.binary(min_size=32, max_size=32), st.integers(0, 2**64 - 2))
def test_chacha8_blocks_agree_with_the_reference_at_any_counter(key: bytes, counter: int) -> None:
    assert _sdr.chacha8(key, counter, 1) == struct.pack("<16I", *reference.chacha8_block(key, counter))


def test_blake2b_matches_rfc_7693() -> None:
    assert _sdr.blake2b(b"abc").hex() == BLAKE2B_ABC


@given(st.binary(max_size=600))
def test_blake2b_matches_hashlib(data: bytes) -> None:
    assert _sdr.blake2b(data) == hashlib.blake2b(data).digest()


@given(st.binary(max_size=2000))
def test_label_hashing_is_truncated_sha256_on_every_backend(data: bytes) -> None:
    digest = hashlib.sha256(data).digest()
    for backend in LABEL_BACKENDS:
        _sdr.select(backend)
        assert _sdr.hash_padded_blocks(padded(data)) == digest[:31] + bytes([digest[31] & 0x3F])
    _sdr.select(LABEL_BACKENDS[0])


def test_sha_ni_hashes_labels_where_the_cpu_has_it() -> None:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next((set(line.split()[2:]) for line in cpuinfo if line.startswith("flags")), set())
    assert ("sha-ni" in LABEL_BACKENDS) == ("sha_ni" in flags)
    assert LABEL_BACKENDS[-1] == "portable" and _sdr.current() == LABEL_BACKENDS[0]


# -- the graph and labels against the rust-fil-proofs vectors ----------------------------------------------


@pytest.mark.parametrize(("proof_type", "api_version", "digest"), PARENT_CACHE_2KIB)
def test_the_2kib_parent_caches_match_the_published_digests(proof_type: int, api_version: str, digest: str) -> None:
    table = c_parents(porep_id_of(proof_type), 64, api_version)
    assert hashlib.sha256(table).hexdigest() == digest
    assert reference.parents_table(porep_id_of(proof_type), 64, api_version) == table


@pytest.mark.parametrize(("nodes", "porep_byte", "api_version", "limbs"), LABEL_VECTORS)
def test_the_last_labels_match_rust_fil_proofs(
    nodes: int, porep_byte: int, api_version: str, limbs: list[int], label_backend: str
) -> None:
    expected = struct.pack("<4Q", *limbs)
    porep_id, replica_id = bytes([porep_byte]) * 32, bytes([9]) * 32
    assert c_layers(replica_id, c_parents(porep_id, nodes, api_version), 11)[-1][-32:] == expected
    assert reference.sdr_layers(replica_id, porep_id, nodes, 11, api_version)[-1][-32:] == expected


# -- C against the reference on small graphs ----------------------------------------------------------------

graphs = st.tuples(st.integers(2, 1500), st.binary(min_size=32, max_size=32), st.sampled_from(["1.0.0", "1.1.0"]))
# Labels are gathered 1,024 nodes at a time, so their graphs go past a few chunk edges.
label_graphs = st.tuples(st.integers(2, 5000), st.binary(min_size=32, max_size=32), st.sampled_from(["1.0.0", "1.1.0"]))


@settings(max_examples=15, deadline=None)
@given(graphs, st.integers(1, 3))
def test_c_parents_equal_the_reference(graph: tuple[int, bytes, str], threads: int) -> None:
    nodes, porep_id, api_version = graph
    assert c_parents(porep_id, nodes, api_version, threads) == reference.parents_table(porep_id, nodes, api_version)


def reference_layers(replica_id: bytes, table: bytes, layers: int) -> list[bytes]:
    result: list[bytes] = []
    for layer in range(1, layers + 1):
        result.append(reference.label_layer(replica_id, layer, table, result[-1] if result else None))
    return result


@settings(max_examples=15, deadline=None)
@given(label_graphs, st.binary(min_size=32, max_size=32))
def test_c_labels_equal_the_reference(graph: tuple[int, bytes, str], replica_id: bytes) -> None:
    """The parents come from the C (held to the reference above): the Python Feistel is slow at 5,000 nodes."""
    nodes, porep_id, api_version = graph
    table = c_parents(porep_id, nodes, api_version)
    expected = reference_layers(replica_id, table, 3)
    for backend in LABEL_BACKENDS:
        _sdr.select(backend)
        for threads in (1, 2):
            assert c_layers(replica_id, table, 3, threads) == expected
    _sdr.select(LABEL_BACKENDS[0])


# -- what the C refuses, and how it stops -------------------------------------------------------------------


@pytest.mark.parametrize(("node", "slot", "value"), [(5, 0, 5), (9, 3, 200), (7, 13, 4096), (3000, 6, 2**32 - 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_parent_that_cannot_be_one_is_refused_instead_of_read(node: int, slot: int, value: int, threads: int):
    table = bytearray(c_parents(porep_id_of(5), 4096, "1.1.0"))
    struct.pack_into("<I", table, 4 * (14 * node + slot), value)
    with pytest.raises(ValueError, match=f"parent {value} for node {node}"):
        c_layers(bytes(32), bytes(table), 2, threads)


def test_a_set_cancel_flag_stops_both_loops() -> None:
    nodes, flag = 1 << 15, bytearray(b"\x01")
    out = bytearray(nodes * 56)
    keys = struct.pack("<3Q", *reference.feistel_keys(bytes(32))[:3])
    assert _sdr.parents(reference.drg_seed(bytes(32)), keys, nodes, False, out, 2, flag) is False
    table = c_parents(bytes(32), nodes, "1.1.0")
    for threads in (1, 2):
        assert _sdr.label_layer(bytes(32), 1, table, bytearray(nodes * 32), None, flag, threads) is False
    flag[0] = 0
    assert _sdr.label_layer(bytes(32), 1, table, bytearray(nodes * 32), None, flag, 2) is True


@pytest.mark.parametrize(
    "call",
    [
        lambda: _sdr.label_layer(bytes(31), 1, bytes(64 * 56), bytearray(64 * 32), None, None, 1),
        lambda: _sdr.label_layer(bytes(32), 1, bytes(63 * 56), bytearray(64 * 32), None, None, 1),
        lambda: _sdr.label_layer(bytes(32), 2, bytes(64 * 56), bytearray(64 * 32), None, None, 1),
        lambda: _sdr.label_layer(bytes(32), 1, bytes(64 * 56), bytearray(64 * 32), bytes(64 * 32), None, 1),
        lambda: _sdr.label_layer(bytes(32), 1, bytes(56), bytearray(32), None, None, 1),
        lambda: _sdr.label_layer(bytes(32), 1, bytes(64 * 56), bytearray(64 * 32), None, None, 3),
        lambda: _sdr.parents(bytes(28), bytes(24), 1, False, bytearray(56), 1, None),
        lambda: _sdr.parents(bytes(28), bytes(24), 64, False, bytearray(63 * 56), 1, None),
        lambda: _sdr.parents(bytes(28), bytes(24), 64, False, bytearray(64 * 56), 0, None),
        lambda: _sdr.parents(bytes(28), bytes(24), 64, False, bytearray(64 * 56), 1, bytearray()),
    ],
)
def test_malformed_arguments_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()

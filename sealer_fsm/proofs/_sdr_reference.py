"""Pure-Python SDR (stacked DRG) graph and labels, written for clarity: the tests check the C extension
against it, and it checks itself against the rust-fil-proofs vectors (reference-proofs.md §3.3-3.6).

Nothing here is fast: a 2KiB graph takes milliseconds, an 8MiB one tens of seconds (Feistel's BLAKE2b
dominates). It computes every value the straightforward way, with no table or shortcut the C code uses, so
that the two agree only if both follow the algorithm.
"""

from __future__ import annotations

import hashlib
import struct

BASE_DEGREE = 6
EXPANSION_DEGREE = 8
DEGREE = BASE_DEGREE + EXPANSION_DEGREE
FEISTEL_ROUNDS = 3
LEGACY_API = "1.0.0"
_MASK32 = 0xFFFFFFFF
_CHACHA_CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)


def domain_seed(tag: bytes, porep_id: bytes) -> bytes:
    """rust-fil-proofs' `derive_porep_domain_seed`: SHA-256(tag ‖ porep_id)."""
    return hashlib.sha256(tag + porep_id).digest()


def drg_seed(porep_id: bytes) -> bytes:
    """The 28 bytes that, with a node's index, key the ChaCha8 generator of its DRG parents."""
    return domain_seed(b"Filecoin_DRSample", porep_id)[:28]


def feistel_keys(porep_id: bytes) -> tuple[int, int, int, int]:
    """The four Feistel keys (u64 little-endian); the permutation uses the first three."""
    return struct.unpack("<4Q", domain_seed(b"Filecoin_Feistel", porep_id))


# -- ChaCha8, as rand_chacha's ChaCha8Rng (64-bit block counter in words 12-13, stream 0) -----------------


def _quarter_round(state: list[int], a: int, b: int, c: int, d: int) -> None:
    def rotl(value: int, bits: int) -> int:
        return ((value << bits) | (value >> (32 - bits))) & _MASK32

    state[a] = (state[a] + state[b]) & _MASK32
    state[d] = rotl(state[d] ^ state[a], 16)
    state[c] = (state[c] + state[d]) & _MASK32
    state[b] = rotl(state[b] ^ state[c], 12)
    state[a] = (state[a] + state[b]) & _MASK32
    state[d] = rotl(state[d] ^ state[a], 8)
    state[c] = (state[c] + state[d]) & _MASK32
    state[b] = rotl(state[b] ^ state[c], 7)


def chacha8_block(key: bytes, counter: int) -> list[int]:
    """Sixteen output words of block `counter` of the ChaCha8 stream keyed by 32 bytes, nonce zero."""
    initial = [*_CHACHA_CONSTANTS, *struct.unpack("<8I", key), counter & _MASK32, counter >> 32, 0, 0]
    state = list(initial)
    for _ in range(4):  # 8 rounds = 4 double rounds
        _quarter_round(state, 0, 4, 8, 12)
        _quarter_round(state, 1, 5, 9, 13)
        _quarter_round(state, 2, 6, 10, 14)
        _quarter_round(state, 3, 7, 11, 15)
        _quarter_round(state, 0, 5, 10, 15)
        _quarter_round(state, 1, 6, 11, 12)
        _quarter_round(state, 2, 7, 8, 13)
        _quarter_round(state, 3, 4, 9, 14)
    return [(word + start) & _MASK32 for word, start in zip(state, initial, strict=True)]


class ChaCha8Rng:
    """rand_chacha's `ChaCha8Rng::from_seed`: `next_u64` joins two output words, low word first."""

    def __init__(self, seed: bytes) -> None:
        self._key = seed
        self._words: list[int] = []
        self._block = 0

    def next_u32(self) -> int:
        if not self._words:
            self._words = chacha8_block(self._key, self._block)
            self._block += 1
        return self._words.pop(0)

    def next_u64(self) -> int:
        low = self.next_u32()
        return low | self.next_u32() << 32


# -- the graph ----------------------------------------------------------------------------------------------


def drg_parents(seed: bytes, node: int, api_version: str) -> list[int]:
    """The six bucket-sampling parents of `node` (§3.3), in the order the API version stores them."""
    if node < 2:
        return [0] * BASE_DEGREE
    rng = ChaCha8Rng(seed + struct.pack("<I", node))
    m_prime = BASE_DEGREE - 1
    metagraph_node = node * m_prime
    n_buckets = (metagraph_node - 1).bit_length()  # ceil(log2(metagraph_node))
    drawn = []
    for _ in range(m_prime):
        bucket = rng.next_u64() % n_buckets + 1
        largest = min(metagraph_node, 1 << bucket)
        smallest = max(2, largest >> 1)
        distance = smallest + rng.next_u64() % (largest - smallest + 1)
        parent = (metagraph_node - distance) // m_prime
        drawn.append(node - 1 if parent == node else parent)
    return [*drawn, node - 1] if api_version == LEGACY_API else [node - 1, *drawn]


def _feistel_round(right: int, key: int, mask: int) -> int:
    digest = hashlib.blake2b(struct.pack(">QQ", right, key)).digest()
    return int.from_bytes(digest[:8], "big") & mask


def feistel_half_bits(elements: int) -> int:
    """Bits per half of the Feistel network over [0, elements): the smallest k ≥ 1 with 4^k ≥ elements."""
    half_bits = 1
    while 4**half_bits < elements:
        half_bits += 1
    return half_bits


def feistel_permute(elements: int, index: int, keys: tuple[int, ...]) -> int:
    """rust-fil-proofs' `feistel::permute`: three rounds, re-encoded until the result lies below `elements`."""
    half_bits = feistel_half_bits(elements)
    mask = (1 << half_bits) - 1
    value = index
    while True:
        left, right = value >> half_bits, value & mask
        for key in keys[:FEISTEL_ROUNDS]:
            left, right = right, left ^ _feistel_round(right, key, mask)
        value = left << half_bits | right
        if value < elements:
            return value


def expander_parents(keys: tuple[int, ...], nodes: int, node: int, api_version: str) -> list[int]:
    """The eight expander parents of `node` (§3.4), all in the previous layer."""
    elements = nodes * EXPANSION_DEGREE
    parents = []
    for slot in range(EXPANSION_DEGREE):
        permuted = feistel_permute(elements, node * EXPANSION_DEGREE + slot, keys)
        if api_version == LEGACY_API:
            permuted &= _MASK32  # the legacy API truncated to u32 before dividing
        parents.append(permuted // EXPANSION_DEGREE)
    return parents


def parents_table(porep_id: bytes, nodes: int, api_version: str) -> bytes:
    """The parent cache's content: per node, 6 base then 8 expander parents, each a u32 little-endian."""
    seed, keys = drg_seed(porep_id), feistel_keys(porep_id)
    table = bytearray()
    for node in range(nodes):
        parents = drg_parents(seed, node, api_version) + expander_parents(keys, nodes, node, api_version)
        table += struct.pack(f"<{DEGREE}I", *parents)
    return bytes(table)


# -- labels -------------------------------------------------------------------------------------------------


def _truncate(digest: bytes) -> bytes:
    return digest[:31] + bytes([digest[31] & 0x3F])


def label_layer(replica_id: bytes, layer: int, table: bytes, previous: bytes | None) -> bytes:
    """One layer's labels (§3.5): layer 1 hashes base parents only, later layers the previous layer too."""
    nodes = len(table) // (4 * DEGREE)
    labels = bytearray(32 * nodes)

    def label(index: int, source: bytes | bytearray) -> bytes:
        return bytes(source[32 * index : 32 * index + 32])

    for node in range(nodes):
        message = replica_id + struct.pack(">IQ", layer, node) + bytes(20)
        if node > 0:
            parents = struct.unpack_from(f"<{DEGREE}I", table, 4 * DEGREE * node)
            base = [label(parent, labels) for parent in parents[:BASE_DEGREE]]
            if previous is None:
                message += b"".join(base * 6) + base[0]
            else:
                expanded = base + [label(parent, previous) for parent in parents[BASE_DEGREE:]]
                message += b"".join(expanded * 2 + expanded[:9])
        labels[32 * node : 32 * node + 32] = _truncate(hashlib.sha256(message).digest())
    return bytes(labels)


def sdr_layers(replica_id: bytes, porep_id: bytes, nodes: int, layers: int, api_version: str) -> list[bytes]:
    """Every layer's labels, first to last; the last layer is the key that PC2 encodes the sector with."""
    table = parents_table(porep_id, nodes, api_version)
    result: list[bytes] = []
    for layer in range(1, layers + 1):
        result.append(label_layer(replica_id, layer, table, result[-1] if result else None))
    return result

"""An independent, deliberately plain Poseidon and PC2 in Python, written from the specs for the tests only.

It follows neptune's `spec/poseidon_spec.md` in its unoptimised form (round constants added before every S-box,
the full MDS matrix in every round), which is not what the C extension runs (the optimised sparse form from
constants generated at build time), and reference-proofs.md §4.2 and §6 for the trees and Snap Deals. Nothing
here is imported by the package.
"""

from __future__ import annotations

from functools import cache

P = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
PARTIAL_ROUNDS = {2: 55, 4: 56, 8: 57, 11: 57, 16: 59, 24: 59, 36: 60}


def grain_constants(width: int, partial_rounds: int) -> list[int]:
    """Grain LFSR in self-shrinking mode, as `poseidon_spec.md` "Round Constants" writes it."""
    bits = f"{1:02b}{1:04b}{255:012b}{width:012b}{8:010b}{partial_rounds:010b}" + "1" * 30
    state = [int(bit) for bit in bits]
    taps = (0, 13, 23, 38, 51, 62)

    def clock() -> int:
        new = 0
        for tap in taps:
            new ^= state[tap]
        del state[0]
        state.append(new)
        return new

    for _ in range(160):
        clock()
    constants = []
    while len(constants) < (8 + partial_rounds) * width:
        candidate_bits = []
        while len(candidate_bits) < 255:
            first, second = clock(), clock()
            if first:
                candidate_bits.append(second)
        value = int("".join(map(str, candidate_bits)), 2)
        if value < P:
            constants.append(value)
    return constants


@cache
def parameters(arity: int) -> tuple[list[int], list[list[int]]]:
    width = arity + 1
    mds = [[pow(x + width + y, P - 2, P) for y in range(width)] for x in range(width)]
    return grain_constants(width, PARTIAL_ROUNDS[arity]), mds


def permutation(state: list[int]) -> int:
    """The unoptimised permutation; returns state[1]."""
    arity = len(state) - 1
    constants, mds = parameters(arity)
    width, partial = arity + 1, PARTIAL_ROUNDS[arity]
    for round_index in range(8 + partial):
        state = [(value + constants[round_index * width + i]) % P for i, value in enumerate(state)]
        if round_index < 4 or round_index >= 4 + partial:
            state = [pow(value, 5, P) for value in state]
        else:
            state[0] = pow(state[0], 5, P)
        state = [sum(state[j] * mds[j][i] for j in range(width)) % P for i in range(width)]
    return state[1]


def hash_ints(values: list[int], tag: int | None = None, arity: int | None = None) -> int:
    """Poseidon over `values`: MerkleTree tag by default; a given tag, zero-padded to `arity`, otherwise."""
    arity = arity or len(values)
    tag = (1 << arity) - 1 if tag is None else tag
    return permutation([tag, *values, *([0] * (arity - len(values)))])


def hash_nodes(nodes: list[bytes], tag: int | None = None, arity: int | None = None) -> bytes:
    return hash_ints([int.from_bytes(node, "little") for node in nodes], tag, arity).to_bytes(32, "little")


def nodes_of(data: bytes) -> list[bytes]:
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def oct_tree_rows(leaves: list[bytes]) -> list[list[bytes]]:
    """Every row of an 8-ary MerkleTree-tagged Poseidon tree, leaves first."""
    rows = [leaves]
    while len(rows[-1]) > 1:
        below = rows[-1]
        rows.append([hash_nodes(below[i : i + 8]) for i in range(0, len(below), 8)])
    return rows


def tree_c_rows(layers: list[bytes]) -> list[list[bytes]]:
    """TreeC of a single base tree: column hashes (arity = layer count) of the labels, then the oct tree."""
    columns = zip(*(nodes_of(layer) for layer in layers), strict=True)
    return oct_tree_rows([hash_nodes(list(column)) for column in columns])


def encode(data: bytes, key: bytes) -> bytes:
    return b"".join(
        ((int.from_bytes(d, "little") + int.from_bytes(k, "little")) % P).to_bytes(32, "little")
        for d, k in zip(nodes_of(data), nodes_of(key), strict=True)
    )


def compound_root(roots: list[bytes], sub: int, top: int) -> bytes:
    """The root over base-tree roots for a (8, sub, top) shape (sub 0: a single base tree)."""
    if sub == 0:
        (root,) = roots
        return root
    sub_roots = [hash_nodes(roots[i : i + sub]) for i in range(0, len(roots), sub)]
    return sub_roots[0] if top == 0 else hash_nodes(sub_roots)


def comm_r(comm_c: bytes, comm_r_last: bytes) -> bytes:
    return hash_nodes([comm_c, comm_r_last])


def snap_phi(comm_d_new: bytes, comm_r_old: bytes) -> int:
    return hash_ints([int.from_bytes(comm_d_new, "little"), int.from_bytes(comm_r_old, "little")], tag=1 << 40)


def snap_rho(phi: int, high: int) -> int:
    return hash_ints([phi, high], tag=1 << 40)


def snap_encode(sector_key: bytes, data: bytes, comm_d_new: bytes, comm_r_old: bytes) -> bytes:
    """new_replica[i] = key[i] + data[i]·rho(i >> (log2(nodes) - h)), h = 1 up to 32KiB, else 10."""
    nodes = len(sector_key) // 32
    h = 1 if nodes <= 1024 else 10
    shift = nodes.bit_length() - 1 - h
    phi = snap_phi(comm_d_new, comm_r_old)
    rhos: dict[int, int] = {}
    out = []
    for index, (k, d) in enumerate(zip(nodes_of(sector_key), nodes_of(data), strict=True)):
        high = index >> shift
        rho = rhos.setdefault(high, snap_rho(phi, high))
        out.append(((int.from_bytes(k, "little") + int.from_bytes(d, "little") * rho) % P).to_bytes(32, "little"))
    return b"".join(out)

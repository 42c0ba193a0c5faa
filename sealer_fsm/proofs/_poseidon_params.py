"""Poseidon parameters for the C extension, generated once at build time into `_poseidon_constants.h`.

neptune (`Strength::Standard`) derives everything from the width t = arity + 1: the round numbers, the round
constants (Grain LFSR seeded with the instance), the Cauchy MDS matrix, and, for its fast "static" form, the
compressed round constants, the pre-sparse matrix and one sparse matrix per partial round
(`spec/poseidon_spec.md`). This module computes all of it with Python integers, checks the fast form against
the plain permutation and neptune's published vectors, and writes a C header of Montgomery-form limbs, so
the extension starts with its tables in read-only memory and nothing to compute.

It is run by setup.py as a script (`python _poseidon_params.py OUT.h`) and imports nothing from the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
MONTGOMERY_R = (1 << 256) % MODULUS
FULL_ROUNDS = 8
PARTIAL_ROUNDS = {2: 55, 4: 56, 8: 57, 11: 57, 16: 59, 24: 59, 36: 60}
"""R_P per arity: neptune's `round_numbers_base` (parameters/round_numbers.txt at t = arity + 1)."""

# neptune `src/poseidon.rs` `hash_values` test: MerkleTree hash of [0, 1, ..., arity-1], as four u64 limbs.
NEPTUNE_VECTORS = {
    2: (0x2E203C369A02E7FF, 0xA6FBA9339D05A69D, 0x739E0FD902EFE161, 0x396508D75E76A56B),
    8: (0x2A9934F56D38A5E6, 0x4B682E9D9CC4AED9, 0x1201004211677077, 0x2394611DA3A5DE55),
}

Matrix = list[list[int]]


def grain_round_constants(width: int, partial_rounds: int) -> list[int]:
    """(R_F + R_P)·t constants from the Grain LFSR seeded with (prime field, x^5, 255 bits, t, R_F, R_P)."""
    seed = [(1, 2), (1, 4), (255, 12), (width, 12), (FULL_ROUNDS, 10), (partial_rounds, 10), ((1 << 30) - 1, 30)]
    state = [(value >> shift) & 1 for value, bits in seed for shift in reversed(range(bits))]

    def next_bit() -> int:
        bit = state[62] ^ state[51] ^ state[38] ^ state[23] ^ state[13] ^ state[0]
        state.pop(0)
        state.append(bit)
        return bit

    for _ in range(160):
        next_bit()
    constants: list[int] = []
    while len(constants) < (FULL_ROUNDS + partial_rounds) * width:
        candidate = 0
        emitted = 0
        while emitted < 255:
            if next_bit():
                candidate = (candidate << 1) | next_bit()
                emitted += 1
            else:
                next_bit()
        if candidate < MODULUS:
            constants.append(candidate)
    return constants


def mds_matrix(width: int) -> Matrix:
    """The Cauchy matrix M[i][j] = 1 / (i + (t + j))."""
    return [[pow(row + width + column, -1, MODULUS) for column in range(width)] for row in range(width)]


def matrix_product(left: Matrix, right: Matrix) -> Matrix:
    columns = list(zip(*right, strict=True))
    return [[sum(a * b for a, b in zip(row, column, strict=True)) % MODULUS for column in columns] for row in left]


def vector_times(vector: list[int], matrix: Matrix) -> list[int]:
    return [
        sum(v * row[column] for v, row in zip(vector, matrix, strict=True)) % MODULUS
        for column in range(len(matrix[0]))
    ]


def matrix_inverse(matrix: Matrix) -> Matrix:
    """Gauss-Jordan over F_p."""
    size = len(matrix)
    rows = [[*row, *(int(i == j) for j in range(size))] for i, row in enumerate(matrix)]
    for column in range(size):
        pivot = next(index for index in range(column, size) if rows[index][column])
        rows[column], rows[pivot] = rows[pivot], rows[column]
        scale = pow(rows[column][column], -1, MODULUS)
        rows[column] = [value * scale % MODULUS for value in rows[column]]
        for index in range(size):
            factor = rows[index][column]
            if index != column and factor:
                rows[index] = [(a - factor * b) % MODULUS for a, b in zip(rows[index], rows[column], strict=True)]
    return [row[size:] for row in rows]


class Instance:
    """One width's constants, plain and optimised (the spec's RC', pre-sparse matrix P and sparse matrices S)."""

    def __init__(self, arity: int) -> None:
        self.arity = arity
        self.width = width = arity + 1
        self.partial_rounds = partial = PARTIAL_ROUNDS[arity]
        self.round_constants = grain_round_constants(width, partial)
        self.mds = mds_matrix(width)
        self._compress()

    def _rc(self, round_index: int) -> list[int]:
        return self.round_constants[round_index * self.width : (round_index + 1) * self.width]

    def _compress(self) -> None:
        half = FULL_ROUNDS // 2
        inverse = matrix_inverse(self.mds)
        compressed = list(self._rc(0))
        for round_index in range(1, half):
            compressed += vector_times(self._rc(round_index), inverse)
        partial_constants = []
        accumulator = self._rc(half + self.partial_rounds)
        for round_index in reversed(range(half, half + self.partial_rounds)):
            transformed = vector_times(accumulator, inverse)
            partial_constants.append(transformed[0])
            transformed[0] = 0
            accumulator = [(a + b) % MODULUS for a, b in zip(transformed, self._rc(round_index), strict=True)]
        compressed += vector_times(accumulator, inverse)
        compressed += reversed(partial_constants)
        for round_index in range(half + self.partial_rounds + 1, FULL_ROUNDS + self.partial_rounds):
            compressed += vector_times(self._rc(round_index), inverse)
        self.compressed_constants = compressed

        sparse: list[tuple[list[int], list[int]]] = []
        matrix = self.mds
        for _ in range(self.partial_rounds):
            sub = [row[1:] for row in matrix[1:]]
            w_hat = [
                sum(a * row[0] for a, row in zip(line, matrix[1:], strict=True)) % MODULUS
                for line in matrix_inverse(sub)
            ]
            sparse.append((list(matrix[0]), w_hat))
            factor = [[int(i == j == 0) for j in range(self.width)] for i in range(self.width)]
            for i in range(1, self.width):
                factor[i][1:] = sub[i - 1]
            matrix = matrix_product(self.mds, factor)
        self.pre_sparse = matrix
        self.sparse = list(reversed(sparse))
        """Each sparse matrix as (first row, rest of first column); the rest is the identity."""

    def plain(self, state: list[int]) -> int:
        """The unoptimised permutation; returns state[1]."""
        half = FULL_ROUNDS // 2
        for round_index in range(FULL_ROUNDS + self.partial_rounds):
            state = [(s + c) % MODULUS for s, c in zip(state, self._rc(round_index), strict=True)]
            full = round_index < half or round_index >= half + self.partial_rounds
            state = [pow(s, 5, MODULUS) if full or i == 0 else s for i, s in enumerate(state)]
            state = vector_times(state, self.mds)
        return state[1]

    def optimised(self, state: list[int]) -> int:
        """The spec's static form, exactly as the C runs it; returns state[1]."""
        width, half, constants = self.width, FULL_ROUNDS // 2, self.compressed_constants
        state = [(s + c) % MODULUS for s, c in zip(state, constants[:width], strict=True)]
        offset = width
        for round_index in range(half):
            state = [
                (pow(s, 5, MODULUS) + c) % MODULUS
                for s, c in zip(state, constants[offset : offset + width], strict=True)
            ]
            offset += width
            state = vector_times(state, self.pre_sparse if round_index == half - 1 else self.mds)
        for first_row, w_hat in self.sparse:
            first = (pow(state[0], 5, MODULUS) + constants[offset]) % MODULUS
            offset += 1
            head = (first * first_row[0] + sum(s * w for s, w in zip(state[1:], w_hat, strict=True))) % MODULUS
            state = [head, *((first * m + s) % MODULUS for m, s in zip(first_row[1:], state[1:], strict=True))]
        for round_index in range(half):
            last = round_index == half - 1
            round_constants = [0] * width if last else constants[offset : offset + width]
            offset += 0 if last else width
            state = [(pow(s, 5, MODULUS) + c) % MODULUS for s, c in zip(state, round_constants, strict=True)]
            state = vector_times(state, self.mds)
        assert offset == len(constants)
        return state[1]

    def check(self) -> None:
        """Refuse to build on constants that do not reproduce neptune, or a fast form that differs from the plain."""
        merkle_tag = (1 << self.arity) - 1
        for sample in range(3):
            state = [merkle_tag, *((sample * 7919 + i) ** 3 % MODULUS for i in range(self.arity))]
            if self.plain(list(state)) != self.optimised(list(state)):
                raise SystemExit(f"poseidon arity {self.arity}: the optimised form differs from the plain one")
        if self.arity in NEPTUNE_VECTORS:
            limbs = NEPTUNE_VECTORS[self.arity]
            expected = sum(limb << (64 * index) for index, limb in enumerate(limbs))
            if self.optimised([merkle_tag, *range(self.arity)]) != expected:
                raise SystemExit(f"poseidon arity {self.arity}: constants do not reproduce neptune's vector")


def _limbs(value: int, montgomery: bool = True) -> str:
    value = value * MONTGOMERY_R % MODULUS if montgomery else value
    return "{{" + ",".join(f"0x{(value >> (64 * i)) & (2**64 - 1):016x}ULL" for i in range(4)) + "}}"


def _array(name: str, values: list[int], montgomery: bool = True) -> str:
    body = ",\n".join(_limbs(value, montgomery) for value in values)
    return f"static const fr {name}[{len(values)}] = {{\n{body}}};\n"


def render_header() -> str:
    """The whole header: one block of tables per arity and a table of instances."""
    parts = [
        "/* Generated by _poseidon_params.py at build time: do not edit. Montgomery form unless named plain.\n"
        " * Included by _poseidon.c after _poseidon.h, which defines fr and poseidon_instance. */\n"
    ]
    entries = []
    for arity in PARTIAL_ROUNDS:
        instance = Instance(arity)
        instance.check()
        prefix = f"A{arity}_"
        sparse_values = [value for first_row, w_hat in instance.sparse for value in (*first_row, *w_hat)]
        parts.append(_array(prefix + "PLAIN_RC", instance.round_constants, montgomery=False))
        parts.append(_array(prefix + "RC", instance.compressed_constants))
        parts.append(_array(prefix + "MDS", [v for row in instance.mds for v in row]))
        parts.append(_array(prefix + "PRE", [v for row in instance.pre_sparse for v in row]))
        parts.append(_array(prefix + "SPARSE", sparse_values))
        entries.append(
            f"{{{arity}, {instance.width}, {instance.partial_rounds}, {prefix}PLAIN_RC, {prefix}RC, "
            f"{prefix}MDS, {prefix}PRE, {prefix}SPARSE}}"
        )
    parts.append(
        f"#define POSEIDON_INSTANCE_COUNT {len(entries)}\n"
        "static const poseidon_instance POSEIDON_INSTANCES[POSEIDON_INSTANCE_COUNT] = {\n"
        + ",\n".join(entries)
        + "};\n"
    )
    return "".join(parts)


def write_header(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(render_header())
    temporary.replace(path)


if __name__ == "__main__":
    write_header(Path(sys.argv[1]))

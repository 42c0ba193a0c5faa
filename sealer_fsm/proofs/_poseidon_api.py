"""Poseidon over the BLS12-381 scalar field, as neptune computes it with `Strength::Standard`.

Field elements are 32 bytes, little-endian, below the modulus p; anything else is refused with a sentence
naming the element. The hashing runs in the C extension `_poseidon` (mulx/adx or portable C, chosen at import
like the SHA backends); there is no Python fallback: PC2 in Python would take hours, so a missing extension is
reported instead (`PoseidonUnavailable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

try:
    from sealer_fsm.proofs import _poseidon as _c
except ImportError:  # the extension was not built
    _c = None  # type: ignore[assignment]

FIELD_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""p, the order of BLS12-381's scalar field."""
NODE_SIZE = 32

Tag = str | tuple[str, int]
"""A domain tag: "merkle" (2^arity - 1, Merkle nodes, columns and CommR), "constant" (ConstantLength of the
input count: count·2^64), ("constant", arity) (the same, zero-padded in a wider instance) or ("custom", id)
(id·2^40 with 1 ≤ id ≤ 256, e.g. ("custom", 1) for Snap Deals' phi and rho)."""


class PoseidonUnavailable(RuntimeError):
    """The C extension `sealer_fsm.proofs._poseidon` is not built here."""


def extension() -> ModuleType:
    """The C extension, or PoseidonUnavailable with what to do about it."""
    if _c is None:
        raise PoseidonUnavailable(
            "the C extension sealer_fsm.proofs._poseidon is not built; reinstall the package (pip install -e .)"
        )
    return _c


def poseidon(elements: Sequence[bytes], tag: Tag = "merkle") -> bytes:
    """Poseidon hash of `elements` (32-byte little-endian field elements); the arity is their number.

    >>> poseidon([bytes(32), (1).to_bytes(32, "little")]).hex()[:16]
    'ffe7029a363c202e'
    """
    return poseidon_many([elements], tag)[0]


def poseidon_many(groups: Sequence[Sequence[bytes]], tag: Tag = "merkle") -> list[bytes]:
    """One Poseidon hash per group (all groups the same length), computed four at a time in C: what C1 wants
    for many column hashes or tree nodes at once, and how the tree builder hashes."""
    if not groups:
        return []
    count = len(groups[0])
    values = []
    for group_index, group in enumerate(groups):
        if len(group) != count:
            raise ValueError(f"group {group_index} has {len(group)} elements; every group needs {count}")
        where = "" if len(groups) == 1 else f"group {group_index}, "
        values += [_element(value, f"{where}element {index}") for index, value in enumerate(group)]
    arity, tag_value = _instance_and_tag(count, tag)
    if arity not in poseidon_arities():
        raise ValueError(
            f"no Poseidon instance of arity {arity} (available: {', '.join(map(str, poseidon_arities()))})"
        )
    digests = extension().hash(b"".join(values), arity, tag_value.to_bytes(NODE_SIZE, "little"), count)
    return [digests[i : i + NODE_SIZE] for i in range(0, len(digests), NODE_SIZE)]


def hash2(left: bytes, right: bytes) -> bytes:
    """Poseidon arity 2 with the MerkleTree tag: CommR = hash2(comm_c, comm_r_last)."""
    return poseidon([left, right])


def poseidon_arities() -> tuple[int, ...]:
    """The arities with generated constants: 2, 4, 8, 11, 16, 24, 36."""
    return tuple(extension().arities())


def field_backends() -> tuple[str, ...]:
    """The field multiplications this CPU runs, fastest first: "mulx-adx" (x86 BMI2 + ADX) and "portable"."""
    return tuple(extension().available())


def field_backend() -> str:
    return str(extension().current())


def use_field_backend(name: str = "best") -> None:
    """Force one field backend ("mulx-adx", "portable") or go back to the fastest with "best"."""
    available = field_backends()
    if name != "best" and name not in available:
        raise ValueError(f"field backend {name!r} is not available here (use one of {', '.join(available)}, best)")
    extension().select(available[0] if name == "best" else name)


def _element(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != NODE_SIZE:
        size = f"{len(value)} bytes" if isinstance(value, bytes | bytearray | memoryview) else type(value).__name__
        raise ValueError(f"{what} is {size}; a field element is 32 little-endian bytes")
    if int.from_bytes(value, "little") >= FIELD_MODULUS:
        raise ValueError(f"{what} (0x{bytes(value)[::-1].hex()}) is not below the BLS12-381 scalar field modulus")
    return bytes(value)


def _instance_and_tag(count: int, tag: Tag) -> tuple[int, int]:
    """The instance arity and the domain tag value for `count` inputs."""
    if count < 1:
        raise ValueError("Poseidon needs at least one element")
    if tag == "merkle":
        return count, (1 << count) - 1
    if tag == "constant":
        return count, count << 64
    if isinstance(tag, tuple) and len(tag) == 2 and isinstance(tag[1], int) and not isinstance(tag[1], bool):
        kind, number = tag
        if kind == "constant" and number >= count:
            return number, count << 64
        if kind == "custom" and 1 <= number <= 256:
            return count, number << 40
    raise ValueError(
        f"unknown Poseidon tag {tag!r} for {count} elements (use 'merkle', 'constant', ('constant', arity >= {count})"
        " or ('custom', 1..256))"
    )

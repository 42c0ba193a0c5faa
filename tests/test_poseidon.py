"""Poseidon in C against neptune's published vectors and constants, and against the independent Python of the tests."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import poseidon, poseidon_arities, poseidon_many, use_field_backend
from sealer_fsm.proofs._poseidon_api import FIELD_MODULUS, extension
from tests.support import poseidon_reference as reference

P = FIELD_MODULUS
EDGES = [0, 1, P - 1]


def limbs_to_bytes(limbs: tuple[int, int, int, int]) -> bytes:
    return b"".join(limb.to_bytes(8, "little") for limb in limbs)


def element(value: int) -> bytes:
    return value.to_bytes(32, "little")


# neptune src/poseidon.rs `hash_values`: MerkleTree hash of [0, 1, ..., arity-1] (reference-proofs.md §4.1).
NEPTUNE_VECTORS = {
    2: (0x2E203C369A02E7FF, 0xA6FBA9339D05A69D, 0x739E0FD902EFE161, 0x396508D75E76A56B),
    8: (0x2A9934F56D38A5E6, 0x4B682E9D9CC4AED9, 0x1201004211677077, 0x2394611DA3A5DE55),
}


@pytest.mark.parametrize("arity", sorted(NEPTUNE_VECTORS))
def test_neptune_vectors_on_every_backend(field_backend: str, arity: int) -> None:
    assert poseidon([element(i) for i in range(arity)]) == limbs_to_bytes(NEPTUNE_VECTORS[arity])


@pytest.mark.parametrize("arity", sorted(NEPTUNE_VECTORS))
def test_the_test_reference_reproduces_neptune_too(arity: int) -> None:
    assert reference.hash_nodes([element(i) for i in range(arity)]) == limbs_to_bytes(NEPTUNE_VECTORS[arity])


def test_round_constants_match_neptunes_published_file_for_width_9() -> None:
    # neptune parameters/round_constants-1-1-255-9-8-57-73EDA...01.txt: 585 constants (hadeshash's sage script).
    full, partial, constants = extension().round_constants(8)
    assert (full, partial, len(constants) // 32) == (8, 57, 585)
    values = [int.from_bytes(constants[i : i + 32], "little") for i in range(0, len(constants), 32)]
    assert values[0] == 0x6CE90D12C4045FE08C3CADDB776DD84AC52B4AE7E48CD49443984154F2F4C2F9
    assert values[1] == 0x0CCD9B480C84022B25A75B52C8E89D80B4FA6378D32E58F3A175504940BCEC39
    assert values[-1] == 0x3B3A75EB91B0F723BCC4AB7E449E4A011B8960063EFE74670C05E545519D9A8C
    assert hashlib.sha256(constants).hexdigest() == "9a4a743575f0eaf285c93d73f8adaf4e7ef4042c2445b42bddaf1a64e5face72"


@pytest.mark.parametrize("arity", [2, 4, 8, 11, 16, 24, 36])
def test_built_constants_equal_the_test_grain_lfsr(arity: int) -> None:
    full, partial, constants = extension().round_constants(arity)
    assert (full, partial) == (8, reference.PARTIAL_ROUNDS[arity])
    expected = reference.parameters(arity)[0]
    assert [int.from_bytes(constants[i : i + 32], "little") for i in range(0, len(constants), 32)] == expected


def test_arities_offered() -> None:
    assert poseidon_arities() == (2, 4, 8, 11, 16, 24, 36)


field_values = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=P - 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), arity=st.sampled_from([2, 4, 8, 11]))
def test_c_equals_the_plain_python_on_random_inputs(field_backend: str, data: st.DataObject, arity: int) -> None:
    # The backend fixture holds for every generated input: it only chooses which C multiplication runs.
    values = data.draw(st.lists(field_values, min_size=arity, max_size=arity))
    assert poseidon([element(v) for v in values]) == element(reference.hash_ints(values))


@pytest.mark.parametrize("arity", [16, 24, 36])
def test_wide_arities_agree_on_edges(arity: int) -> None:
    values = [EDGES[i % 3] for i in range(arity)]
    assert poseidon([element(v) for v in values]) == element(reference.hash_ints(values))


@pytest.mark.parametrize("edge", EDGES)
def test_field_edges_in_every_position(field_backend: str, edge: int) -> None:
    for position in range(8):
        values = [7] * 8
        values[position] = edge
        assert poseidon([element(v) for v in values]) == element(reference.hash_ints(values))


@settings(max_examples=15, deadline=None)
@given(values=st.lists(field_values, min_size=2, max_size=2), custom=st.integers(min_value=1, max_value=256))
def test_custom_tag(values: list[int], custom: int) -> None:
    expected = reference.hash_ints(values, tag=custom << 40)
    assert poseidon([element(v) for v in values], ("custom", custom)) == element(expected)


@settings(max_examples=15, deadline=None)
@given(values=st.lists(field_values, min_size=1, max_size=8), width=st.sampled_from([8, 11]))
def test_constant_length_tag_pads_with_zeros(values: list[int], width: int) -> None:
    expected = reference.hash_ints(values, tag=len(values) << 64, arity=width)
    assert poseidon([element(v) for v in values], ("constant", width)) == element(expected)
    if len(values) in (2, 4, 8):
        unpadded = reference.hash_ints(values, tag=len(values) << 64)
        assert poseidon([element(v) for v in values], "constant") == element(unpadded)


@pytest.mark.parametrize(
    ("elements", "tag", "message"),
    [
        ([element(P), element(0)], "merkle", "element 0 (0x73eda753"),
        ([element(0), b"\xff" * 32], "merkle", "element 1 (0xffff"),
        ([element(0), bytes(31)], "merkle", "element 1 is 31 bytes"),
        ([element(0), "zero"], "merkle", "element 1 is str"),
        ([], "merkle", "Poseidon needs at least one element"),
        ([element(0)] * 3, "merkle", "no Poseidon instance of arity 3"),
        ([element(0)] * 2, ("custom", 0), "unknown Poseidon tag"),
        ([element(0)] * 2, ("custom", 257), "unknown Poseidon tag"),
        ([element(0)] * 9, ("constant", 8), "unknown Poseidon tag"),
        ([element(0)] * 2, "sponge", "unknown Poseidon tag"),
    ],
)
def test_bad_input_is_refused_in_one_sentence(elements: list, tag: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")) as raised:
        poseidon(elements, tag)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)


def test_the_c_layer_refuses_out_of_field_values_itself() -> None:
    with pytest.raises(ValueError, match="element 1 is not below the field modulus"):
        extension().hash(element(1) + element(P), 2, element(3), 2)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="field backend 'avx512' is not available"):
        use_field_backend("avx512")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), arity=st.sampled_from([2, 4, 8, 11, 16]), groups=st.integers(min_value=1, max_value=9))
def test_many_hashes_four_at_a_time_equal_the_plain_python(
    field_backend: str, data: st.DataObject, arity: int, groups: int
) -> None:
    # The backend fixture holds for every generated input: "avx2" hashes the groups in AVX2 lanes, four at once.
    rows = [data.draw(st.lists(field_values, min_size=arity, max_size=arity)) for _ in range(groups)]
    digests = poseidon_many([[element(v) for v in row] for row in rows])
    assert digests == [element(reference.hash_ints(row)) for row in rows]


@pytest.mark.parametrize("arity", [24, 36])
def test_wide_arities_many_at_once_fall_back_to_scalar(field_backend: str, arity: int) -> None:
    rows = [[EDGES[(i + shift) % 3] for i in range(arity)] for shift in range(5)]
    assert poseidon_many([[element(v) for v in row] for row in rows]) == [
        element(reference.hash_ints(row)) for row in rows
    ]


def test_groups_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="group 1 has 3 elements; every group needs 2"):
        poseidon_many([[element(1), element(2)], [element(1), element(2), element(3)]])
    with pytest.raises(ValueError, match=r"group 1, element 0 \(0x73eda753"):
        poseidon_many([[element(1), element(2)], [element(P), element(2)]])

"""Snap Deals encoding against the independent Python of reference-proofs.md §6, and its exact inverse."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    TreeInputError,
    precommit_phase2,
    snap_decode,
    snap_encode,
    snap_encode_into,
    tree_r_last_path,
    tree_root_of_file,
)
from sealer_fsm.proofs._encoding import rho_table, snap_phi
from tests.support import poseidon_reference as reference
from tests.test_pc2 import SMALL_SHAPES, make_sector, random_nodes

COMM_D = (12345).to_bytes(32, "little")
COMM_R = (67890).to_bytes(32, "little")


def as_nodes(values: list[int]) -> bytes:
    return b"".join(value.to_bytes(32, "little") for value in values)


def test_rho_selects_by_the_high_bits_of_the_node_index() -> None:
    phi = snap_phi(COMM_D, COMM_R)
    assert int.from_bytes(phi, "little") == reference.snap_phi(COMM_D, COMM_R)
    assert rho_table(phi, 64).shift == 5  # 2KiB: h = 1
    assert rho_table(phi, 1 << 18).shift == 8  # 8MiB: h = 10, 1024 rhos
    assert len(rho_table(phi, 1 << 18).table) == 1024 * 32


@functools.cache
def reference_snap(nodes: int) -> tuple[bytes, bytes, bytes]:
    """A sector key, new data and their encoding by the tests' own Python (the same for every backend)."""
    rng = random.Random(nodes)
    key, data = random_nodes(rng, nodes), random_nodes(rng, nodes)
    return key, data, reference.snap_encode(key, data, COMM_D, COMM_R)


@pytest.mark.parametrize("nodes", [64, 1 << 10, 1 << 11])
def test_snap_encode_equals_the_reference(field_backend: str, nodes: int) -> None:
    key, data, expected = reference_snap(nodes)
    encoded = snap_encode(key, data, comm_d_new=COMM_D, comm_r_old=COMM_R, nodes=nodes)
    assert encoded == expected
    assert snap_decode(encoded, key, comm_d_new=COMM_D, comm_r_old=COMM_R, nodes=nodes) == data


field_values = st.one_of(st.sampled_from([0, 1, reference.P - 1]), st.integers(min_value=0, max_value=reference.P - 1))


@settings(max_examples=50, deadline=None)
@given(
    pairs=st.lists(st.tuples(field_values, field_values), min_size=1, max_size=64),
    first=st.integers(min_value=0, max_value=1 << 18),
)
def test_snap_decode_inverts_snap_encode_on_any_range(pairs: list[tuple[int, int]], first: int) -> None:
    nodes = 1 << 20
    key, data = as_nodes([k for k, _ in pairs]), as_nodes([d for _, d in pairs])
    arguments = {"comm_d_new": COMM_D, "comm_r_old": COMM_R, "nodes": nodes, "first_node": first}
    assert snap_decode(snap_encode(key, data, **arguments), key, **arguments) == data


def test_a_range_encodes_like_the_whole() -> None:
    rng = random.Random(3)
    key, data = random_nodes(rng, 2048), random_nodes(rng, 2048)
    whole = snap_encode(key, data, comm_d_new=COMM_D, comm_r_old=COMM_R, nodes=2048)
    part = snap_encode(key[640:960], data[640:960], comm_d_new=COMM_D, comm_r_old=COMM_R, nodes=2048, first_node=20)
    assert part == whole[640:960]


def test_a_range_outside_the_sector_is_refused() -> None:
    with pytest.raises(ValueError, match=r"nodes 64\.\.65 are outside a sector of 64 nodes"):
        snap_encode(bytes(64), bytes(64), comm_d_new=COMM_D, comm_r_old=COMM_R, nodes=64, first_node=64)


def seal_then_stage(tmp_path: Path, size: int) -> tuple[Path, Path, Path, bytes]:
    """A sector sealed from synthetic layers (the sector key) and new Fr32-padded data staged beside it."""
    sector = make_sector(tmp_path, size)
    precommit_phase2(sector.cache, sector.sealed, size, sector.data_path)
    new_data = random_nodes(random.Random(99), sector.shape.nodes)
    staged = tmp_path / "staged"
    staged.write_bytes(new_data)
    return sector.sealed, sector.cache, staged, new_data


@pytest.mark.parametrize("size", SMALL_SHAPES)
def test_encode_into_equals_the_reference(tmp_path: Path, size: int) -> None:
    sector_key, old_cache, staged, new_data = seal_then_stage(tmp_path, size)
    update, update_cache = tmp_path / "update" / "s-1", tmp_path / "update-cache" / "s-1"
    output = snap_encode_into(sector_key, old_cache, staged, update, update_cache, size)
    comm_c, comm_r_last_old = (old_cache / "p_aux").read_bytes()[:32], (old_cache / "p_aux").read_bytes()[32:]
    comm_r_old = reference.comm_r(comm_c, comm_r_last_old)
    comm_d_new = tree_root_of_file(staged)
    expected = reference.snap_encode(sector_key.read_bytes(), new_data, comm_d_new, comm_r_old)
    assert update.read_bytes() == expected
    shape = make_sector(tmp_path / "shape", size).shape
    width = shape.base_leaves * 32
    roots = [reference.oct_tree_rows(reference.nodes_of(expected[i : i + width]))[-1][0] for i in range(0, size, width)]
    comm_r_last_new = reference.compound_root(roots, shape.sub_arity, shape.top_arity)
    assert (output.comm_d_new, output.comm_r_old) == (comm_d_new, comm_r_old)
    assert output.comm_r_last_new == comm_r_last_new
    assert output.comm_r_new == reference.comm_r(comm_c, comm_r_last_new)
    assert (update_cache / "p_aux").read_bytes() == comm_c + comm_r_last_new
    assert (update_cache / "t_aux").read_bytes() == (old_cache / "t_aux").read_bytes()
    decoded = snap_decode(
        update.read_bytes(), sector_key.read_bytes(), comm_d_new=comm_d_new, comm_r_old=comm_r_old, nodes=size // 32
    )
    assert decoded == new_data
    assert tree_r_last_path(update_cache, update, size, size // 32 - 1).root == comm_r_last_new


def test_encode_into_reruns_keep_whole_files(tmp_path: Path) -> None:
    sector_key, old_cache, staged, _ = seal_then_stage(tmp_path, 4 << 10)
    update, update_cache = tmp_path / "update", tmp_path / "update-cache"
    first = snap_encode_into(sector_key, old_cache, staged, update, update_cache, 4 << 10)
    kept = update.stat().st_mtime_ns
    assert snap_encode_into(sector_key, old_cache, staged, update, update_cache, 4 << 10) == first
    assert update.stat().st_mtime_ns == kept
    (update_cache / "sc-02-data-tree-r-last-1.dat").unlink()
    assert snap_encode_into(sector_key, old_cache, staged, update, update_cache, 4 << 10) == first
    assert update.stat().st_mtime_ns != kept


def test_encode_into_names_missing_inputs(tmp_path: Path) -> None:
    sector_key, old_cache, staged, _ = seal_then_stage(tmp_path, 2 << 10)
    (old_cache / "p_aux").unlink()
    with pytest.raises(TreeInputError, match="p_aux is missing: the sector key has no PC2 commitments"):
        snap_encode_into(sector_key, old_cache, staged, tmp_path / "u", tmp_path / "uc", 2 << 10)
    sector_key.write_bytes(b"x" * 100)
    with pytest.raises(TreeInputError, match=r"the sector key \(old replica\) .* is 100 bytes; expected 2048 bytes"):
        snap_encode_into(sector_key, old_cache, staged, tmp_path / "u", tmp_path / "uc", 2 << 10)
    assert not (tmp_path / "u").exists()

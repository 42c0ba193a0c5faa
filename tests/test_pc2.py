"""PC2 from given layer files against the independent Python of reference-proofs.md §4.2: trees, files, restarts."""

from __future__ import annotations

import functools
import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    Cancelled,
    CancelToken,
    SectorShape,
    TreeInputError,
    decode,
    encode,
    layer_path,
    precommit_phase2,
)
from sealer_fsm.proofs._layout import merkle_tree_len
from tests.support import poseidon_reference as reference

SMALL_SHAPES = [2 << 10, 4 << 10, 16 << 10, 32 << 10]  # (8,0,0), (8,2,0), (8,8,0), (8,8,2)


def random_nodes(rng: random.Random, count: int) -> bytes:
    """Field elements as PC1 writes labels: 254 random bits, little-endian."""
    return b"".join(rng.getrandbits(254).to_bytes(32, "little") for _ in range(count))


@dataclass
class Sector:
    size: int
    cache: Path
    sealed: Path
    data_path: Path
    layers: list[bytes]
    data: bytes

    @property
    def shape(self) -> SectorShape:
        return SectorShape.of(self.size)


@functools.cache
def sector_inputs(size: int, seed: int) -> tuple[list[bytes], bytes]:
    """The layers and data of a synthetic sector: the same for the same seed."""
    rng = random.Random(seed)
    shape = SectorShape.of(size)
    layers = [random_nodes(rng, shape.nodes) for _ in range(shape.layers)]
    return layers, random_nodes(rng, shape.nodes)


def make_sector(root: Path, size: int, seed: int = 1) -> Sector:
    cache = root / "cache"
    cache.mkdir(parents=True)
    layers, data = sector_inputs(size, seed)
    for number, layer in enumerate(layers, start=1):
        layer_path(cache, number).write_bytes(layer)
    data_path = root / "unsealed"
    data_path.write_bytes(data)
    return Sector(size, cache, root / "sealed", data_path, layers, data)


def reference_trees(sector: Sector) -> tuple[list[list[list[bytes]]], list[list[list[bytes]]], bytes]:
    """Every row of every base tree of TreeC and TreeR-last, and the replica, from the test's own Python."""
    return _reference_trees(sector.size, tuple(sector.layers), sector.data)


@functools.cache
def _reference_trees(
    size: int, layers: tuple[bytes, ...], data: bytes
) -> tuple[list[list[list[bytes]]], list[list[list[bytes]]], bytes]:
    shape = SectorShape.of(size)
    width = shape.base_leaves * 32
    replica = reference.encode(data, layers[-1])
    tree_c, tree_r = [], []
    for base in range(shape.base_trees):
        part = slice(base * width, (base + 1) * width)
        tree_c.append(reference.tree_c_rows([layer[part] for layer in layers]))
        tree_r.append(reference.oct_tree_rows(reference.nodes_of(replica[part])))
    return tree_c, tree_r, replica


@pytest.mark.parametrize("size", SMALL_SHAPES)
def test_pc2_equals_the_reference_for_every_shape(tmp_path: Path, field_backend: str, size: int) -> None:
    sector = make_sector(tmp_path, size)
    shape = sector.shape
    output = precommit_phase2(sector.cache, sector.sealed, size, sector.data_path, threads=2)
    tree_c, tree_r, replica = reference_trees(sector)
    comm_c = reference.compound_root([rows[-1][0] for rows in tree_c], shape.sub_arity, shape.top_arity)
    comm_r_last = reference.compound_root([rows[-1][0] for rows in tree_r], shape.sub_arity, shape.top_arity)
    assert (output.comm_c, output.comm_r_last) == (comm_c, comm_r_last)
    assert output.comm_r == reference.comm_r(comm_c, comm_r_last)
    assert sector.sealed.read_bytes() == replica
    # Files as merkletree lays them out: TreeC keeps every row, TreeR-last the rows above rows_to_discard.
    c_files, r_files = shape.tree_files(sector.cache, "tree-c"), shape.tree_files(sector.cache, "tree-r-last")
    for rows, path in zip(tree_c, c_files, strict=True):
        assert path.read_bytes() == b"".join(node for row in rows for node in row)
    for rows, path in zip(tree_r, r_files, strict=True):
        assert path.read_bytes() == b"".join(node for row in rows[shape.rows_to_discard + 1 :] for node in row)
    assert (sector.cache / "p_aux").read_bytes() == comm_c + comm_r_last
    assert not list(sector.cache.glob("*.tmp")) and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("size", "names"),
    [
        (2 << 10, ["sc-02-data-tree-c.dat", "sc-02-data-tree-r-last.dat"]),
        (4 << 10, [f"sc-02-data-tree-{kind}-{i}.dat" for kind in ("c", "r-last") for i in range(2)]),
    ],
)
def test_file_names_follow_store_config(tmp_path: Path, size: int, names: list[str]) -> None:
    sector = make_sector(tmp_path, size)
    precommit_phase2(sector.cache, sector.sealed, size, sector.data_path)
    produced = sorted(path.name for path in sector.cache.iterdir() if "layer" not in path.name)
    assert produced == sorted([*names, "p_aux", "t_aux", "pc2-trees.json"])


@pytest.mark.parametrize(
    ("size", "rows_to_discard", "tree_r_last_bytes"),
    [
        (2 << 10, 1, 32),  # 64 leaves: only the root is above the discarded row
        (8 << 20, 2, (512 + 64 + 8 + 1) * 32),
        (512 << 20, 2, sum(8**k for k in range(6)) * 32),
        (32 << 30, 2, sum(8**k for k in range(7)) * 32),  # 9.6 MB per base tree, as lotus hosts show
    ],
)
def test_rows_to_discard_and_file_sizes(size: int, rows_to_discard: int, tree_r_last_bytes: int) -> None:
    shape = SectorShape.of(size)
    assert shape.rows_to_discard == rows_to_discard
    assert shape.tree_r_last_size() == tree_r_last_bytes
    assert shape.tree_c_size() == merkle_tree_len(shape.base_leaves) * 32


def test_shapes_of_the_published_sizes() -> None:
    assert (SectorShape.of(32 << 30).base_trees, SectorShape.of(32 << 30).layers) == (8, 11)
    assert (SectorShape.of(64 << 30).base_trees, SectorShape.of(64 << 30).top_arity) == (16, 2)
    with pytest.raises(ValueError, match="no PC2 tree shape for a sector of 3000 bytes"):
        SectorShape.of(3000)


def test_t_aux_is_the_references_bincode(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    data = (sector.cache / "t_aux").read_bytes()
    configs, offset = [], 8
    (count,) = struct.unpack_from("<Q", data)
    path = str(sector.cache.resolve()).encode()
    for _ in range(count + 3):
        fields = []
        for _ in range(2):
            (length,) = struct.unpack_from("<Q", data, offset)
            fields.append(data[offset + 8 : offset + 8 + length])
            offset += 8 + length
        tag, size, rows = struct.unpack_from("<BQQ", data, offset)
        offset += 17
        configs.append((*fields, tag, size, rows))
    assert offset == len(data)
    assert configs == [
        (path, b"layer-1", 1, 64, 0),
        (path, b"layer-2", 1, 64, 0),
        (path, b"tree-d", 1, 127, 0),
        (path, b"tree-r-last", 1, 73, 1),
        (path, b"tree-c", 1, 73, 0),
    ]


def test_a_committed_capacity_sector_needs_no_data_file(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    zeros = tmp_path / "zeros"
    zeros.write_bytes(bytes(sector.size))
    from_file = precommit_phase2(sector.cache, tmp_path / "a", sector.size, zeros)
    for path in sector.cache.glob("sc-02-data-tree-*"):
        path.unlink()
    without = precommit_phase2(sector.cache, tmp_path / "b", sector.size, None)
    assert from_file == without
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == sector.layers[-1]


def test_a_rerun_keeps_whole_files_and_redoes_the_rest(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 4 << 10)
    first = precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    tree_c = sector.shape.tree_files(sector.cache, "tree-c")
    kept = [path.stat().st_mtime_ns for path in tree_c]
    tree_c[1].unlink()
    sector.sealed.unlink()
    (sector.cache / "sc-02-data-tree-r-last-0.dat.tmp").write_bytes(b"left by a killed run")
    second = precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    assert second == first
    assert tree_c[0].stat().st_mtime_ns == kept[0]  # whole: not rebuilt
    assert tree_c[1].exists() and sector.sealed.exists()
    assert not list(sector.cache.glob("*.tmp"))


def test_trees_of_earlier_layers_are_not_reused(tmp_path: Path) -> None:
    """PC1 run again for a new replica (a new ticket) rewrites the layers and its marker: PC2 starts over."""
    sector = make_sector(tmp_path, 2 << 10)
    (sector.cache / "sdr-labels.json").write_text('{"replica_id": "01"}')
    first = precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    new_layers = [random_nodes(random.Random(7), 64) for _ in range(2)]
    for number, layer in enumerate(new_layers, start=1):
        layer_path(sector.cache, number).write_bytes(layer)
    (sector.cache / "sdr-labels.json").write_text('{"replica_id": "02"}')
    second = precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    assert second != first
    assert second.comm_c == reference.tree_c_rows(new_layers)[-1][0]
    assert sector.sealed.read_bytes() == reference.encode(sector.data, new_layers[-1])


def test_a_truncated_tree_file_is_not_taken_as_whole(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    first = precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    tree_c = sector.cache / "sc-02-data-tree-c.dat"
    tree_c.write_bytes(tree_c.read_bytes()[:-32])
    assert precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path) == first


def test_missing_layer_is_named(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    layer_path(sector.cache, 2).unlink()
    with pytest.raises(TreeInputError, match=r"^PC1 layer 2 .*sc-02-data-layer-2.dat is missing$"):
        precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    assert not sector.sealed.exists() and not list(sector.cache.glob("sc-02-data-tree*"))


def test_short_layer_and_data_are_named(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    layer_path(sector.cache, 1).write_bytes(sector.layers[0][:-32])
    with pytest.raises(TreeInputError, match=r"PC1 layer 1 .* is 2016 bytes; expected 2048 bytes$"):
        precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    layer_path(sector.cache, 1).write_bytes(sector.layers[0])
    sector.data_path.write_bytes(sector.data + bytes(32))
    with pytest.raises(TreeInputError, match=r"the sector's staged data .* is 2080 bytes; expected 2048 bytes$"):
        precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)


@pytest.mark.parametrize("layer", [1, 2])
def test_a_label_outside_the_field_is_refused_naming_file_and_node(tmp_path: Path, layer: int) -> None:
    sector = make_sector(tmp_path, 2 << 10)
    corrupt = bytearray(sector.layers[layer - 1])
    corrupt[37 * 32 : 38 * 32] = b"\xff" * 32
    layer_path(sector.cache, layer).write_bytes(bytes(corrupt))
    with pytest.raises(TreeInputError, match=rf"sc-02-data-layer-{layer}.dat: node 37 is not a BLS12-381 field"):
        precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    assert not sector.sealed.exists()
    assert not list(sector.cache.glob("*.tmp"))


def test_a_cancelled_pc2_leaves_nothing_under_a_real_name(tmp_path: Path) -> None:
    sector = make_sector(tmp_path, 32 << 10)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path, cancel=token)
    kept = ["pc2-trees.json", "sc-02-data-layer-1.dat", "sc-02-data-layer-2.dat"]
    assert sorted(path.name for path in sector.cache.iterdir()) == kept
    assert not sector.sealed.exists() and not list(tmp_path.glob("*.tmp"))


def test_an_io_error_is_an_oserror_naming_what_was_written(tmp_path: Path) -> None:
    """A file-size limit stands in for a full disk: the write fails with EFBIG inside the C loop."""
    import subprocess
    import sys

    sector = make_sector(tmp_path, 2 << 10)
    script = f"""
import resource, signal
from sealer_fsm.proofs import precommit_phase2
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
try:
    precommit_phase2({str(sector.cache)!r}, {str(sector.sealed)!r}, 2048, {str(sector.data_path)!r})
except OSError as error:
    print(type(error).__name__, error.errno, error)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.startswith("OSError 27 [Errno 27] File too large (the tree being written"), result.stdout
    assert not (tmp_path / "sealed").exists() and not list(sector.cache.glob("*.tmp"))


field_nodes = st.lists(
    st.one_of(st.sampled_from([0, 1, reference.P - 1]), st.integers(min_value=0, max_value=reference.P - 1)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(data_values=field_nodes, key_values=field_nodes)
def test_decode_inverts_encode(data_values: list[int], key_values: list[int]) -> None:
    count = min(len(data_values), len(key_values))
    data = b"".join(value.to_bytes(32, "little") for value in data_values[:count])
    key = b"".join(value.to_bytes(32, "little") for value in key_values[:count])
    replica = encode(data, key)
    assert replica == reference.encode(data, key)
    assert decode(replica, key) == data


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        (bytes(31), bytes(31), "whole 32-byte nodes"),
        (bytes(32), bytes(64), "differ in length"),
        (b"\xff" * 32, bytes(32), "node 0 of the first input is not below the field modulus"),
        (bytes(64), bytes(32) + b"\xff" * 32, "node 1 of the second input is not below the field modulus"),
    ],
)
def test_encode_refuses_bad_nodes(data: bytes, key: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(data, key)


def test_results_do_not_depend_on_the_thread_count(tmp_path: Path) -> None:
    outputs = []
    for threads in (1, 2, 3):
        sector = make_sector(tmp_path / str(threads), 16 << 10)
        outputs.append(precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path, threads=threads))
    assert outputs[0] == outputs[1] == outputs[2]


def test_files_are_flushed_before_their_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    sector = make_sector(tmp_path, 2 << 10)
    precommit_phase2(sector.cache, sector.sealed, sector.size, sector.data_path)
    assert len(synced) == 6  # the marker, tree-c, replica, tree-r-last, p_aux, t_aux

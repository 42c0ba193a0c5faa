"""Where PC2 and Snap Deals keep their trees, and what shape those trees have, as rust-fil-proofs does.

Sector sizes map to the reference's tree shapes (`filecoin-proofs/src/constants.rs`): a base arity of 8 and an
optional sub-tree and top-tree arity, so that 32GiB is 8 base trees under one 8-ary node and 64GiB is two such
sub-trees under a binary top. Each base tree of TreeC is a merkletree `DiskStore` file holding every row, each base
tree of TreeR-last a `LevelCacheStore` file holding only the rows above `rows_to_discard` (the leaves are the
replica itself). File names are `StoreConfig::data_path`: `sc-02-data-<id>.dat`, with `-<i>` per base tree when
there are several. `p_aux` is the bincode of (comm_c, comm_r_last); `t_aux` the bincode of the store configs.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

NODE_SIZE = 32
BASE_ARITY = 8
DEFAULT_ROWS_TO_DISCARD = 2  # storage-proofs-core settings DEFAULT_ROWS_TO_DISCARD

_SHAPES = {  # padded sector size: (sub-tree arity, top-tree arity, SDR layers)
    2 << 10: (0, 0, 2),
    4 << 10: (2, 0, 2),
    16 << 10: (8, 0, 2),
    32 << 10: (8, 2, 2),
    8 << 20: (0, 0, 2),
    16 << 20: (2, 0, 2),
    512 << 20: (0, 0, 2),
    1 << 30: (2, 0, 2),
    32 << 30: (8, 0, 11),
    64 << 30: (8, 2, 11),
}


def is_persisted_cache_file(name: str) -> bool:
    """Whether a sealing host hands this cache file over with the replica (damocles `cached_filenames_for_sector`):
    TreeR-last, p_aux and t_aux. The layers, TreeC and TreeD stay on the host for C1."""
    return name in ("p_aux", "t_aux") or (name.startswith("sc-02-data-tree-r-last") and name.endswith(".dat"))


def store_file(cache: Path, store_id: str) -> Path:
    return cache / f"sc-02-data-{store_id}.dat"


def tree_row_count(leaves: int) -> int:
    """Rows of an 8-ary tree including leaves and root (merkletree `get_merkle_tree_row_count`)."""
    return round(math.log(leaves, BASE_ARITY)) + 1


def merkle_tree_len(leaves: int) -> int:
    """Nodes of a full 8-ary tree over `leaves` (merkletree `get_merkle_tree_len`)."""
    return sum(leaves // BASE_ARITY**row for row in range(tree_row_count(leaves)))


def default_rows_to_discard(leaves: int) -> int:
    """The reference's default for TreeR-last (storage-proofs-core `default_rows_to_discard`, arity 8)."""
    rows = tree_row_count(leaves)
    if rows <= 2:
        return 0
    if rows == 3:
        return 1
    return min(rows - 2, DEFAULT_ROWS_TO_DISCARD)


@dataclass(frozen=True)
class SectorShape:
    """The trees of one sector size."""

    sector_size: int
    sub_arity: int
    top_arity: int
    layers: int

    @classmethod
    def of(cls, sector_size: int) -> SectorShape:
        if sector_size not in _SHAPES:
            sizes = ", ".join(_size_name(size) for size in sorted(_SHAPES))
            raise ValueError(f"no PC2 tree shape for a sector of {sector_size} bytes (sizes: {sizes})")
        return cls(sector_size, *_SHAPES[sector_size])

    @property
    def nodes(self) -> int:
        return self.sector_size // NODE_SIZE

    @property
    def base_trees(self) -> int:
        return max(self.sub_arity, 1) * max(self.top_arity, 1)

    @property
    def base_leaves(self) -> int:
        return self.nodes // self.base_trees

    @property
    def rows_to_discard(self) -> int:
        return default_rows_to_discard(self.base_leaves)

    def tree_files(self, cache: Path, store_id: str) -> list[Path]:
        """`sc-02-data-<id>.dat`, or `sc-02-data-<id>-<i>.dat` for each base tree of a compound shape."""
        if self.base_trees == 1:
            return [store_file(cache, store_id)]
        return [store_file(cache, f"{store_id}-{index}") for index in range(self.base_trees)]

    def tree_c_size(self) -> int:
        """Bytes of one TreeC base-tree file (every row)."""
        return merkle_tree_len(self.base_leaves) * NODE_SIZE

    def tree_r_last_size(self) -> int:
        """Bytes of one TreeR-last base-tree file (the rows above rows_to_discard)."""
        return sum(self.row_widths()[self.rows_to_discard + 1 :]) * NODE_SIZE

    def row_widths(self) -> list[int]:
        """Nodes per row of a base tree, leaves first."""
        return [self.base_leaves // BASE_ARITY**row for row in range(tree_row_count(self.base_leaves))]


def _size_name(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size >> shift}{unit}"
    return f"{size}B"


def p_aux_bytes(comm_c: bytes, comm_r_last: bytes) -> bytes:
    """bincode of `PersistentAux { comm_c, comm_r_last }`: the two 32-byte domains back to back."""
    return comm_c + comm_r_last


def parse_p_aux(data: bytes, what: str) -> tuple[bytes, bytes]:
    if len(data) != 2 * NODE_SIZE:
        raise ValueError(f"{what} holds {len(data)} bytes; a p_aux file is 64 (comm_c, comm_r_last)")
    return data[:NODE_SIZE], data[NODE_SIZE:]


def t_aux_bytes(shape: SectorShape, cache: Path) -> bytes:
    """bincode of the reference's `TemporaryAux`: the layers', TreeD's, TreeR-last's and TreeC's StoreConfig.

    A StoreConfig is (path: string, id: string, size: Option<u64>, rows_to_discard: u64); bincode writes a
    string as a u64 length and its bytes, an Option as a 0/1 byte and the value, all little-endian.
    """
    path = str(cache.resolve())
    base_len = merkle_tree_len(shape.base_leaves)
    layers = [_store_config(path, f"layer-{layer}", shape.nodes, 0) for layer in range(1, shape.layers + 1)]
    return b"".join(
        [
            struct.pack("<Q", len(layers)),
            *layers,
            _store_config(path, "tree-d", 2 * shape.nodes - 1, 0),
            _store_config(path, "tree-r-last", base_len, shape.rows_to_discard),
            _store_config(path, "tree-c", base_len, 0),
        ]
    )


def _store_config(path: str, store_id: str, size: int, rows_to_discard: int) -> bytes:
    encoded_path, encoded_id = path.encode(), store_id.encode()
    return b"".join(
        [
            struct.pack("<Q", len(encoded_path)),
            encoded_path,
            struct.pack("<Q", len(encoded_id)),
            encoded_id,
            struct.pack("<BQQ", 1, size, rows_to_discard),
        ]
    )

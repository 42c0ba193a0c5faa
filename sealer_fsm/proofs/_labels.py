"""SDR labelling (PC1's long part): every layer's labels, in memory or in the sector's layer files.

Layer files are rust-fil-proofs' `sc-02-data-layer-<n>.dat` (n from 1): `nodes * 32` bytes, each label a
little-endian field element, in node order. PC2 builds TreeC from all of them and encodes the sector with
the last one. Each layer is written to `<name>.tmp` (its space reserved first) and renamed when whole, so a
file under its real name is always complete; `sdr-labels.json` beside them records which replica and graph
they belong to, so a PC1 run again after a crash keeps its complete layers and recomputes only the rest,
and never takes layers of another replica for its own.
"""

from __future__ import annotations

import json
import mmap
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sealer_fsm.proofs import _sdr_reference as reference
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import Cancelled, CancelToken, flag_of
from sealer_fsm.proofs._files import exclusive_lock, sync_folder, write_mapped
from sealer_fsm.proofs._parent_cache import ParentCache, parent_table
from sealer_fsm.proofs._seal_proofs import API_VERSIONS

try:
    from sealer_fsm.proofs import _sdr
except ImportError:  # the SDR extension was not built: labels come from the Python reference (slow)
    _sdr = None  # type: ignore[assignment]

LABEL_BYTES = 32
MARKER = "sdr-labels.json"
LOCK = "sdr-labels.lock"  # held while a process writes the folder's layers
_LAYER_NAME = "sc-02-data-layer-{}.dat"
_MAX_NODES = 1 << 31


def layer_path(cache_dir: str | Path, layer: int) -> Path:
    """The file holding one layer's labels in a sector's cache folder (layer from 1)."""
    return Path(cache_dir) / _LAYER_NAME.format(layer)


def layer_paths(cache_dir: str | Path, layers: int) -> list[Path]:
    """Every layer file of a sector, first to last; the last is the key PC2 encodes the replica with."""
    return [layer_path(cache_dir, layer) for layer in range(1, layers + 1)]


def sdr_labels(
    replica_id: bytes,
    porep_id: bytes,
    nodes: int,
    layers: int,
    api_version: str,
    out_dir: str | Path | None = None,
    *,
    parents: ParentCache | None = None,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> bytes:
    """Label every layer of the graph and return the last label of the last layer (32 bytes).

    With `out_dir`, the layers are written there as `sc-02-data-layer-<n>.dat`, resuming after the last
    complete one of an earlier run for the same replica; without, they live in memory only. `parents` is the
    graph's parent cache (see `open_parent_cache`); without it the parents are computed into memory.
    `threads` caps the threads borrowed from the proofs budget (None: no cap); labels use at most 2, one
    gathering parents ahead while the other hashes. ValueError names a bad argument, OSError a file that cannot
    be written, Cancelled means `cancel` was set.
    """
    labeller = Labeller(replica_id, porep_id, nodes, api_version, parents, threads, cancel)
    return label_layers(labeller, layers, out_dir).last_label


@dataclass(frozen=True)
class LabelRun:
    """What one call labelled: the last label, and how many layers it computed (not found complete)."""

    last_label: bytes
    layers_computed: int
    seconds: float


@dataclass
class Labeller:
    """What every layer of one labelling needs: the graph, its parents, the threads to use and the cancel token."""

    replica_id: bytes
    porep_id: bytes
    nodes: int
    api_version: str
    parents: ParentCache | None = None  # None: computed into memory by `label_layers`
    threads: int | None = None
    cancel: CancelToken | None = None

    def label(self, layer: int, labels: bytearray | mmap.mmap, previous: bytes | bytearray | mmap.mmap | None) -> None:
        """Fill `labels` with one layer's labels (the layer below in `previous`, None for layer 1)."""
        assert self.parents is not None
        if _sdr is None:
            table, below = bytes(self.parents.data), None if previous is None else bytes(previous)
            labels[:] = reference.label_layer(self.replica_id, layer, table, below)
            return
        with hashing_threads(min(self.threads or 2, 2), self.cancel) as threads:
            done = _sdr.label_layer(
                self.replica_id, layer, self.parents.data, labels, previous, flag_of(self.cancel), threads
            )
        if not done:
            raise Cancelled(f"SDR layer {layer} cancelled")


def label_layers(labeller: Labeller, layers: int, out_dir: str | Path | None) -> LabelRun:
    """`sdr_labels`, also saying how much work it did."""
    _check_arguments(labeller, layers)
    started = time.monotonic()
    with ExitStack() as stack:
        if labeller.parents is None:
            graph = (labeller.porep_id, labeller.nodes, labeller.api_version)
            labeller.parents = stack.enter_context(parent_table(*graph, cancel=labeller.cancel))
            started = time.monotonic()
        elif labeller.parents.nodes != labeller.nodes:
            raise ValueError(f"the parent cache is for {labeller.parents.nodes} nodes, not {labeller.nodes}")
        if out_dir is None:
            previous: bytearray | None = None
            for layer in range(1, layers + 1):
                labels = bytearray(labeller.nodes * LABEL_BYTES)
                labeller.label(layer, labels, previous)
                previous = labels
            assert previous is not None
            return LabelRun(bytes(previous[-LABEL_BYTES:]), layers, time.monotonic() - started)
        with exclusive_lock(Path(out_dir) / LOCK, labeller.cancel, "SDR layer"):
            last_label, computed = _label_files(Path(out_dir), labeller, layers)
        return LabelRun(last_label, computed, time.monotonic() - started)


def _check_arguments(labeller: Labeller, layers: int) -> None:
    for value, what in ((labeller.replica_id, "replica id"), (labeller.porep_id, "porep id")):
        if not isinstance(value, bytes | bytearray) or len(value) != 32:
            raise ValueError(f"the {what} must be 32 bytes, got {value!r:.80}")
    nodes = labeller.nodes
    if isinstance(nodes, bool) or not isinstance(nodes, int) or not 2 <= nodes <= _MAX_NODES:
        raise ValueError(f"a graph has from 2 to 2^31 nodes, got {nodes!r}")
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= 15:
        raise ValueError(f"layers must be from 1 to 15, got {layers!r}")
    if labeller.api_version not in API_VERSIONS:
        raise ValueError(f"API version {labeller.api_version!r} is not one of {', '.join(API_VERSIONS)}")
    threads = labeller.threads
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")


# -- layer files --------------------------------------------------------------------------------------------


def _job_of(labeller: Labeller) -> dict[str, object]:
    """What a folder's layers belong to; recorded in MARKER before the first layer is written."""
    return {
        "replica_id": labeller.replica_id.hex(),
        "porep_id": labeller.porep_id.hex(),
        "nodes": labeller.nodes,
        "api_version": labeller.api_version,
    }


def _label_files(folder: Path, labeller: Labeller, layers: int) -> tuple[bytes, int]:
    _claim_folder(folder, _job_of(labeller))
    size, computed = labeller.nodes * LABEL_BYTES, 0
    with ExitStack() as stack:
        previous: mmap.mmap | None = None
        for layer, path in enumerate(layer_paths(folder, layers), start=1):
            if not _is_complete(path, size):
                write_mapped(path, size, partial(labeller.label, layer, previous=previous), f"SDR layer {layer}")
                computed += 1
            previous = stack.enter_context(_mapped(path))
        assert previous is not None
        return bytes(previous[-LABEL_BYTES:]), computed


def _claim_folder(folder: Path, job: dict[str, object]) -> None:
    """Make the folder this job's: keep its layer files if they are of the same job, else remove them; and
    remove what a killed run left half-written."""
    marker = folder / MARKER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(_LAYER_NAME.format("*") + ".tmp"):
            stale.unlink()
        try:
            same_job = json.loads(marker.read_text()) == job
        except (FileNotFoundError, ValueError):
            same_job = False
        if same_job:
            return
        for old in folder.glob(_LAYER_NAME.format("*")):
            old.unlink()
        temporary = marker.with_name(MARKER + ".tmp")
        temporary.write_text(json.dumps(job))
        temporary.replace(marker)
        sync_folder(folder)
    except OSError as error:
        raise OSError(error.errno, f"cannot write in the SDR layer folder {folder}: {error.strerror}") from error


def _is_complete(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap]:
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data

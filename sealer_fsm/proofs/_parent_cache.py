"""Parent caches: every node's 14 parents (u32 little-endian), computed once per graph and shared.

Same content, file name and folder rules as rust-fil-proofs (`stacked/vanilla/cache.rs`), so the two can use
each other's files: `v28-sdr-parent-<hex>.cache` in `$FIL_PROOFS_PARENT_CACHE`, else the folder the worker's
machine file names (`configure_parent_cache_dir`), else the reference's `/var/tmp/filecoin-parents`. A cache is
generated under an exclusive file lock (concurrent threads and processes generate it once), written to a
temporary name and renamed when whole, mapped read-only, and checked against the digest rust-fil-proofs
publishes for it (`parent_cache.json`), where one exists: a cache whose digest is wrong is refused.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sealer_fsm.proofs import _sdr_reference as graph_seeds
from sealer_fsm.proofs._budget import hashing_threads
from sealer_fsm.proofs._cancel import Cancelled, CancelToken, flag_of
from sealer_fsm.proofs._files import exclusive_lock, write_mapped
from sealer_fsm.proofs._seal_proofs import SealProof, seal_proof
from sealer_fsm.units import format_size

try:
    from sealer_fsm.proofs import _sdr
except ImportError:  # the SDR extension was not built: parents come from the Python reference (slow)
    _sdr = None  # type: ignore[assignment]

VERSION = 28  # rust-fil-proofs' parameter_cache::VERSION, part of every cache file name
ENVIRONMENT = "FIL_PROOFS_PARENT_CACHE"
REFERENCE_FOLDER = Path("/var/tmp/filecoin-parents")
ENTRY_BYTES = 4 * graph_seeds.DEGREE

# storage-proofs-porep/parent_cache.json: file stem → SHA-256 of the whole file (proof ids 0-4 and 5-9).
PUBLISHED_DIGESTS = {
    "v28-sdr-parent-3f0eef38bb48af1f48ad65e14eb85b4ebfc167cec18cd81764f6d998836c9899": (
        "3da49221e2ed55371b86d0bf3d6526fcf128af61bed904f966428db1b531750d"  # 2KiB, id 0
    ),
    "v28-sdr-parent-494d91dc80f2df5272c4b9e129bc7ade9405225993af9fe34e6542a39a47554b": (
        "840057702eea7652cf97e04306c30fe57174714d90de156a25eddd6075c25b97"  # 2KiB, id 5
    ),
    "v28-sdr-parent-dcdabb0fbe4364bf0ac28b6a18c66de246409fa1a9020a00f33fb3e3053da6dc": (
        "a76604f2f59f2744c7151653bbb1d8596b6b57d295e6fa6c1f0c41d725b502ce"  # 8MiB
    ),
    "v28-sdr-parent-5eed212119fd91aa6220a27f31a8966444a9381842bceb3a1ea61525bd47a5b5": (
        "03cd13565ded97c240a5f52e54295ad127bd0461b57904cb3a4d79b097bbecab"  # 8MiB
    ),
    "v28-sdr-parent-7ba215a1d2345774ab90b8cb1158d296e409d6068819d7b8c7baf0b25d63dc34": (
        "b5877d1963793efebc261fd8fde4dd6bc59e6b5c7abf52617a4ee023b8dc173a"  # 512MiB
    ),
    "v28-sdr-parent-2aa9c77c3e58259481351cc4be2079cc71e1c9af39700866545c043bfa30fb42": (
        "3adcc092423aa76d6a7184016893406da44dd974b219a89cd3ece25e4e3018f5"  # 512MiB
    ),
    "v28-sdr-parent-21981246c370f9d76c7a77ab273d94bde0ceb4e938292334960bce05585dc117": (
        "93deeac5e3052b6927467d4b2641bb782f05491de18d510147c93eeedd8672da"  # 32GiB
    ),
    "v28-sdr-parent-e1fa5d5b811ddbd118be3412c4a8c329156b8b8acc72632bca459455b5a05a13": (
        "3c4f9841fcc75aed8c695800e58d08480629f25af3a2aefd81904181d75cc0b6"  # 32GiB
    ),
    "v28-sdr-parent-4905486b7af19558ac3649bc6261411858b6add534438878c4ee3b29d8b9de0b": (
        "2698b74eb2606b55b98d8b095e18b6320b47f46e00075956d48640ccd1641b03"  # 64GiB
    ),
    "v28-sdr-parent-8a99e8d6b6be7ab87a56b632e6739ff201c23ea14e99737c74690f0e265574d6": (
        "2778a732ad46a7dc18e0564dfdf59fd321dcde74ab476fd6d3c4e6735d7cd89c"  # 64GiB
    ),
}

_settings: dict[str, Path | None] = {"configured": None}
_digests: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime) → SHA-256, this process
_digests_lock = threading.Lock()


class ParentCacheError(ValueError):
    """A parent cache file that cannot be used: wrong size, or a digest that differs from the published one."""


def configure_parent_cache_dir(folder: Path | None) -> None:
    """The folder the machine file names (`[proofs] parent_cache_dir`); FIL_PROOFS_PARENT_CACHE still wins."""
    _settings["configured"] = folder


def parent_cache_dir() -> Path:
    """Where parent caches live: $FIL_PROOFS_PARENT_CACHE, the configured folder, or the reference's default."""
    return Path(os.environ.get(ENVIRONMENT) or _settings["configured"] or REFERENCE_FOLDER)


def parent_cache_name(porep_id: bytes, nodes: int) -> str:
    """rust-fil-proofs' `cache_path` file name: SHA-256 of the hasher name, the graph identifier, the four
    Feistel keys and the node count. The API version is not part of it: the porep id already tells."""
    identifier = (
        f"stacked_graph::StackedGraph{{expansion_degree: 8 base_graph: "
        f"drgraph::BucketGraph{{size: {nodes}; degree: 6; hasher: poseidon_hasher}} }}"
    )
    keys = struct.pack("<4Q", *graph_seeds.feistel_keys(porep_id))
    digest = hashlib.sha256(b"poseidon_hasher" + identifier.encode() + keys + struct.pack("<I", nodes))
    return f"v{VERSION}-sdr-parent-{digest.hexdigest()}.cache"


@dataclass
class ParentCache:
    """A graph's parents, mapped from a cache file (or held in memory); close it, or use it as a context."""

    nodes: int
    data: mmap.mmap | bytearray
    path: Path | None = None
    generated: bool = False  # by this call (False when the file was already there)
    seconds: float = 0.0  # spent generating it in this call
    published_digest: str | None = None
    _sha256: str | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the parents (computed on first use, then remembered for this file)."""
        if self._sha256 is None:
            self._sha256 = _file_digest(self.path, self.data) if self.path else hashlib.sha256(self.data).hexdigest()
        return self._sha256

    @property
    def verified(self) -> bool:
        """Whether the digest equals the one rust-fil-proofs publishes (False where none is published)."""
        return self.published_digest is not None and self.sha256 == self.published_digest

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()

    def __enter__(self) -> ParentCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parent_table(
    porep_id: bytes, nodes: int, api_version: str, *, threads: int | None = None, cancel: CancelToken | None = None
) -> ParentCache:
    """A graph's parents computed into memory (nodes * 56 bytes), for graphs that have no cache file."""
    data = bytearray(nodes * ENTRY_BYTES)
    started = time.monotonic()
    _fill(data, porep_id, nodes, api_version, threads, cancel)
    return ParentCache(nodes, data, generated=True, seconds=time.monotonic() - started)


def open_parent_cache(
    proof_type: int,
    folder: Path | None = None,
    *,
    regenerate: bool = False,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> ParentCache:
    """The parent cache of a registered proof's graph, generated first if it is missing (or `regenerate`).

    Raises ParentCacheError for a file of the wrong size or digest, OSError (naming the path) when the folder
    cannot be written, Cancelled when `cancel` is set while waiting for another generator or generating.
    """
    proof = seal_proof(proof_type)
    folder = parent_cache_dir() if folder is None else Path(folder)
    path = folder / parent_cache_name(proof.porep_id, proof.nodes)
    started = time.monotonic()
    if regenerate or not path.exists():
        with exclusive_lock(path.with_name(path.name + ".lock"), cancel, "parent cache"):
            if regenerate or not path.exists():  # another thread or process may have generated it meanwhile
                _generate(path, proof, threads, cancel)
                return _open(path, proof, generated_in=time.monotonic() - started)
    return _open(path, proof, generated_in=None)


def _regenerate_hint(proof: SealProof, path: Path) -> str:
    return (
        f"rebuild it with `sealer-fsm proofs parent-cache --sector-size {format_size(proof.sector_size)} "
        f"--proof-type {proof.id} --dir {path.parent} --regenerate`"
    )


def _open(path: Path, proof: SealProof, generated_in: float | None) -> ParentCache:
    expected = proof.nodes * ENTRY_BYTES
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size != expected:
            raise ParentCacheError(
                f"parent cache {path} has {size} bytes where the {format_size(proof.sector_size)} graph needs "
                f"{expected}; {_regenerate_hint(proof, path)}"
            )
        data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    cache = ParentCache(
        proof.nodes,
        data,
        path,
        generated=generated_in is not None,
        seconds=generated_in or 0.0,
        published_digest=PUBLISHED_DIGESTS.get(path.name.removesuffix(".cache")),
    )
    if cache.published_digest is not None and not cache.verified:
        actual = cache.sha256
        cache.close()
        raise ParentCacheError(
            f"parent cache {path} is corrupt: its SHA-256 is {actual}, rust-fil-proofs publishes "
            f"{cache.published_digest}; {_regenerate_hint(proof, path)}"
        )
    return cache


def _digest_key(path: Path) -> tuple[str, int, int, int]:
    status = os.stat(path)
    return (str(path), status.st_ino, status.st_size, status.st_mtime_ns)


def _remember_digest(path: Path, digest: str) -> None:
    with _digests_lock:
        _digests[_digest_key(path)] = digest


def _file_digest(path: Path, data: mmap.mmap | bytearray) -> str:
    """SHA-256 of a cache file's mapped content, remembered for as long as the file does not change."""
    with _digests_lock:
        known = _digests.get(_digest_key(path))
    if known is None:
        known = hashlib.sha256(data).hexdigest()
        _remember_digest(path, known)
    return known


def _generate(path: Path, proof: SealProof, threads: int | None, cancel: CancelToken | None) -> None:
    """Writes the cache whole or not at all, checking it against the published digest before it gets its
    real name. Called with the generation lock held."""
    published = PUBLISHED_DIGESTS.get(path.name.removesuffix(".cache"))

    def fill(data: mmap.mmap) -> str:
        _fill(data, proof.porep_id, proof.nodes, proof.api_version, threads, cancel)
        digest = hashlib.sha256(data).hexdigest()
        if published is not None and digest != published:
            raise ParentCacheError(f"the parent cache generated for {path} differs from the published one")
        return digest

    _remember_digest(path, write_mapped(path, proof.nodes * ENTRY_BYTES, fill, "parent cache"))


def _fill(
    out: mmap.mmap | bytearray,
    porep_id: bytes,
    nodes: int,
    api_version: str,
    threads: int | None,
    cancel: CancelToken | None,
) -> None:
    if _sdr is None:
        out[:] = graph_seeds.parents_table(porep_id, nodes, api_version)
        return
    seed, keys = graph_seeds.drg_seed(porep_id), struct.pack("<3Q", *graph_seeds.feistel_keys(porep_id)[:3])
    with hashing_threads(threads, cancel) as workers:
        done = _sdr.parents(seed, keys, nodes, api_version == graph_seeds.LEGACY_API, out, workers, flag_of(cancel))
    if not done:
        raise Cancelled("parent cache generation cancelled")

"""PC1 as lotus-bench and a sealing worker run it: replica id, parent cache, then every SDR layer on disk."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.proofs._cancel import CancelToken
from sealer_fsm.proofs._labels import Labeller, label_layers, layer_paths
from sealer_fsm.proofs._parent_cache import open_parent_cache
from sealer_fsm.proofs._seal_proofs import replica_id, seal_proof


@dataclass(frozen=True)
class PreCommit1:
    """What PC1 leaves for PC2 (the layer files) and for C1 (the replica id)."""

    replica_id: bytes
    proof_type: int
    layers: list[Path]  # sc-02-data-layer-<n>.dat, first to last
    parent_cache: Path
    seconds: float  # the whole call, parent cache generation included
    labelling_seconds: float
    labels_computed: int  # nodes * layers labelled by this call (complete layers of a killed run are kept)

    @property
    def labels_per_second(self) -> float:
        return self.labels_computed / self.labelling_seconds if self.labelling_seconds > 0 else 0.0


def seal_pre_commit_phase1(
    cache_dir: str | Path,
    *,
    miner: int,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
    proof_type: int,
    parent_cache_dir: Path | None = None,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> PreCommit1:
    """Label a sector's graph into `cache_dir` (rust-fil-proofs' `seal_pre_commit_phase1` without TreeD).

    The parent cache comes from `parent_cache_dir` (default: `parent_cache_dir()`), generated there if it is
    missing. `threads` limits the threads it borrows from the proofs budget (labels use at most 2). Run again
    after a crash, it keeps the layers already complete for the same replica id.
    Raises ValueError (a bad argument, a corrupt parent cache), OSError (naming the file), or Cancelled.
    """
    started = time.monotonic()
    proof = seal_proof(proof_type)
    replica = replica_id(miner, sector_number, ticket, comm_d, proof_type)
    with open_parent_cache(proof_type, parent_cache_dir, threads=threads, cancel=cancel) as parents:
        assert parents.path is not None
        labeller = Labeller(replica, proof.porep_id, proof.nodes, proof.api_version, parents, threads, cancel)
        run = label_layers(labeller, proof.layers, cache_dir)
    return PreCommit1(
        replica_id=replica,
        proof_type=proof_type,
        layers=layer_paths(cache_dir, proof.layers),
        parent_cache=parents.path,
        seconds=time.monotonic() - started,
        labelling_seconds=run.seconds,
        labels_computed=run.layers_computed * proof.nodes,
    )

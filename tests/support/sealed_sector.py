"""Sectors sealed for real (TreeD, PC1, PC2) into a folder, for the C1 tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

from sealer_fsm.proofs import (
    CommitInputs,
    build_tree_d,
    default_proof_type,
    fr32_pad,
    precommit_phase2,
    replica_id,
    seal_pre_commit_phase1,
    unpadded_size,
)


@dataclass(frozen=True)
class SealedSector:
    size: int
    cache: Path
    sealed: Path
    staged: Path | None
    inputs: CommitInputs

    @property
    def replica_id(self) -> bytes:
        i = self.inputs
        return replica_id(i.miner, i.sector_number, i.ticket, i.comm_d, i.proof_type)

    def with_seed(self, seed: bytes) -> SealedSector:
        return replace(self, inputs=replace(self.inputs, seed=seed))


def seal_sector(
    folder: Path,
    size: int,
    *,
    proof_type: int | None = None,
    ticket: bytes = bytes([0x11] * 32),
    number: int = 1,
    data_seed: int | None = 7,
    seed: bytes = bytes(range(32)),
) -> SealedSector:
    """Stage random data (or nothing: a CC sector when `data_seed` is None), build TreeD, run PC1 and PC2."""
    folder.mkdir(parents=True, exist_ok=True)
    cache, sealed = folder / "cache", folder / "sealed"
    staged = None
    if data_seed is not None:
        payload = random.Random(data_seed).randbytes(unpadded_size(size))
        staged = folder / "unsealed"
        staged.write_bytes(fr32_pad(payload))
    proof_type = default_proof_type(size) if proof_type is None else proof_type
    comm_d = build_tree_d(cache, size, staged)
    seal_pre_commit_phase1(cache, miner=1000, sector_number=number, ticket=ticket, comm_d=comm_d, proof_type=proof_type)
    out = precommit_phase2(cache, sealed, size, staged)
    inputs = CommitInputs(1000, number, ticket, seed, comm_d, out.comm_r, proof_type)
    return SealedSector(size, cache, sealed, staged, inputs)

"""The sector manager as the sealing steps see it: one async interface, whatever implements it.

The methods mirror the reference manager's `Venus.*` API (reference-damocles.md section 7). Implementations
raise `ManagerError` for a failed call; the steps turn that into a Temporary failure (retry later), except
`SectorStateNotFound` (the manager no longer knows the sector), which aborts it.
"""

from __future__ import annotations

from typing import Protocol

from sealer_fsm.manager._types import (
    AllocatedSector,
    Deal,
    PollReply,
    PreCommitInfo,
    Randomness,
    RebuildAllocation,
    SectorId,
    SectorStateReply,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StateReport,
    StoreInfo,
    SubmitReply,
    UnsealAllocation,
    WorkerPing,
)


class SectorManager(Protocol):
    async def allocate_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str
    ) -> AllocatedSector | None:
        """A new sector number for one of the allowed miners and sizes, or None when none is available now.

        `request_id` names this request: the worker stores it before asking, and asks again with the same id
        after a crash or a lost reply. A manager that can answers a repeated id with the sector it gave the first
        time (the devnet does; the reference's Venus.AllocateSector cannot, see docs/devnet.md)."""

    async def acquire_deals(
        self, sector: SectorId, max_deals: int | None, min_used_space: int | None = None
    ) -> list[Deal]:
        """Deals to put in the sector; an empty list means a committed-capacity (pledge) sector.

        At most `max_deals` deals (the reference's MaxDeals), filling at least `min_used_space` bytes of the
        sector once padded (MinUsedSpace) or none at all."""

    async def fetch_piece(self, piece_cid: str) -> bytes:
        """The raw payload of a deal's piece (the reference manager's piece store)."""

    async def assign_ticket(self, sector: SectorId) -> Randomness:
        """The sector's PC1 ticket: the stored one while it is still valid, else a fresh draw from the chain."""

    async def submit_precommit(
        self, sector: SectorId, info: PreCommitInfo, reset: bool, *, proof_type: int | None = None
    ) -> SubmitReply:
        """`proof_type` is the sector's RegisteredSealProof (the reference sends its AllocatedSector); a manager
        that keeps its own record of the sector (the devnet) checks it when given, the Venus client needs it."""

    async def poll_precommit(self, sector: SectorId) -> PollReply: ...

    async def reserve_space(self, sector: SectorId, size: int, candidates: list[str]) -> StoreInfo | None:
        """A persist store with room for the sector's files, or None when none has room now."""

    async def store_info(self, instance: str) -> StoreInfo | None: ...

    async def submit_persisted(self, sector: SectorId, instance: str, is_upgrade: bool) -> bool:
        """Whether the manager found the sector's persisted files in `instance`."""

    async def wait_seed(self, sector: SectorId, *, proof_type: int | None = None) -> SeedWait:
        """The seed once the pre-commit's challenge delay passed, or how long to wait; `proof_type` as above."""

    async def submit_proof(self, sector: SectorId, proof: bytes, reset: bool) -> SubmitReply: ...

    async def poll_proof(self, sector: SectorId) -> PollReply: ...

    async def report_state(self, sector: SectorId, report: StateReport) -> SectorStateReply:
        """Tell the manager what a step did; its reply says whether it dropped the sector (then the worker
        aborts it: how `damocles-manager util sealer sectors abort` reaches a worker)."""

    async def report_finalized(self, sector: SectorId) -> None: ...

    async def report_aborted(self, sector: SectorId, reason: str) -> None: ...

    async def allocate_snapup_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str
    ) -> SnapupAllocation | None:
        """A finished CC sector to upgrade with new deals, or None when none is available now; a repeated
        `request_id` is answered with the same upgrade, as for `allocate_sector`."""

    async def submit_snapup_proof(self, sector: SectorId, proof: SnapupProof) -> SubmitReply: ...

    async def allocate_rebuild_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None
    ) -> RebuildAllocation | None:
        """A finished sector whose files were lost, to seal again from its deals and original ticket, or None
        when none is waiting (the reference's AllocateRebuildSector)."""

    async def allocate_unseal_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None
    ) -> UnsealAllocation | None:
        """A deal's piece to read back out of its sealed sector, or None when none is waiting."""

    async def acquire_unseal_dest(self, sector: SectorId, piece_cid: str) -> list[str]:
        """Where the unsealed piece goes: `file:///path`, `store://name/path` or `http(s)://` URLs."""

    async def achieve_unseal_sector(self, sector: SectorId, piece_cid: str, error: str) -> None:
        """The unseal of the piece is over: done when `error` is empty, else failed for that reason."""

    async def worker_ping(self, ping: WorkerPing) -> None:
        """The worker is alive (sent every `[worker] ping_interval`), with what its threads are doing."""

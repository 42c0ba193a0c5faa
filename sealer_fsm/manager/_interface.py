"""The sector manager as the sealing steps see it: one async interface, whatever implements it.

The methods mirror the reference manager's `Venus.*` API (reference-damocles.md section 7). Implementations
raise `ManagerError` for a failed call; the steps turn that into a Temporary failure (retry later).
"""

from __future__ import annotations

from typing import Protocol

from sealer_fsm.manager._types import (
    AllocatedSector,
    Deal,
    PollReply,
    PreCommitInfo,
    Randomness,
    SectorId,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StoreInfo,
    SubmitReply,
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

    async def submit_precommit(self, sector: SectorId, info: PreCommitInfo, reset: bool) -> SubmitReply: ...

    async def poll_precommit(self, sector: SectorId) -> PollReply: ...

    async def reserve_space(self, sector: SectorId, size: int, candidates: list[str]) -> StoreInfo | None:
        """A persist store with room for the sector's files, or None when none has room now."""

    async def store_info(self, instance: str) -> StoreInfo | None: ...

    async def submit_persisted(self, sector: SectorId, instance: str, is_upgrade: bool) -> bool:
        """Whether the manager found the sector's persisted files in `instance`."""

    async def wait_seed(self, sector: SectorId) -> SeedWait: ...

    async def submit_proof(self, sector: SectorId, proof: bytes, reset: bool) -> SubmitReply: ...

    async def poll_proof(self, sector: SectorId) -> PollReply: ...

    async def report_state(self, sector: SectorId, previous: str, current: str, event: str) -> None: ...

    async def report_finalized(self, sector: SectorId) -> None: ...

    async def report_aborted(self, sector: SectorId, reason: str) -> None: ...

    async def allocate_snapup_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str
    ) -> SnapupAllocation | None:
        """A finished CC sector to upgrade with new deals, or None when none is available now; a repeated
        `request_id` is answered with the same upgrade, as for `allocate_sector`."""

    async def submit_snapup_proof(self, sector: SectorId, proof: SnapupProof) -> SubmitReply: ...

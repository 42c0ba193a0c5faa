"""`SectorManager` over the reference manager's sealer API: a damocles-manager, or `sealer-fsm devnet serve`.

Each method is one `Venus.*` call with the reference worker's params (reference-damocles.md section 7); the
wire format is `_wire`'s, the transport (retries, error classes) `_transport`'s. Deal pieces come from the
local piece directories first, then from the manager's piece store at `/piecestore/<cid>` with `piece_token`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sealer_fsm.manager._pieces import read_local_piece
from sealer_fsm.manager._types import (
    SEAL_PROOF_TYPES,
    AllocatedSector,
    Deal,
    ManagerError,
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
    WorkerPingRecord,
)
from sealer_fsm.manager.venus import _wire as wire
from sealer_fsm.manager.venus import _wire_requests as requests_wire
from sealer_fsm.manager.venus._transport import RpcTransport
from sealer_fsm.manager.venus._values import WireError, cid_object

T = TypeVar("T")

# An extension of ours, ignored by a damocles-manager: the allocation's request id, so that `devnet serve`
# answers a repeated allocation (a retry after a lost reply) with the sector it already gave.
REQUEST_ID_HEADER = "X-Sealer-Fsm-Request-Id"


def proof_types_of(sizes: Sequence[int] | None) -> list[int] | None:
    """AllowedProofTypes for allowed sector sizes: the V1_1 seal proof of each size, as the reference sends."""
    if sizes is None:
        return None
    unknown = [size for size in sizes if size not in SEAL_PROOF_TYPES]
    if unknown:
        raise ManagerError(f"no seal proof type for sector size {unknown[0]} (allowed_sizes)")
    return [SEAL_PROOF_TYPES[size] for size in sizes]


class VenusClient:
    """Implements `SectorManager` against `url` (`http(s)://H:P/rpc/v0`)."""

    def __init__(
        self,
        transport: RpcTransport,
        *,
        piece_token: str | None = None,
        local_pieces_dirs: Sequence[Path] = (),
    ) -> None:
        self._rpc = transport
        self._piece_token = piece_token
        self._local_pieces_dirs = list(local_pieces_dirs)
        parts = urlsplit(transport.url)
        self._piece_store = f"{parts.scheme}://{parts.netloc}/piecestore/"

    async def close(self) -> None:
        await self._rpc.close()

    async def _call(self, method: str, decode: Callable[[Any], T], *params: Any, **options: Any) -> T:
        """`Venus.<method>(*params)`, its result decoded with `decode`; a malformed result is a ManagerError."""
        result = await self._rpc.call(f"Venus.{method}", *params, **options)
        try:
            return decode(result)
        except WireError as error:
            raise ManagerError(f"Venus.{method}: the manager's answer does not fit the API: {error}") from error

    # -- allocation and deals -----------------------------------------------------------------------------

    async def allocate_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> AllocatedSector | None:
        spec = wire.allocate_spec_to_wire(allowed_miners, proof_types_of(allowed_sizes))
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        return await self._call("AllocateSector", wire.allocated_sector_from_wire, spec, headers=headers)

    async def acquire_deals(
        self, sector: SectorId, max_deals: int | None, min_used_space: int | None = None
    ) -> list[Deal]:
        spec = wire.deals_spec_to_wire(max_deals, min_used_space)
        return await self._call("AcquireDeals", wire.deals_from_wire, wire.sector_id_to_wire(sector), spec)

    async def fetch_piece(self, piece_cid: str) -> bytes:
        local = await read_local_piece(self._local_pieces_dirs, piece_cid)
        if local is not None:
            return local
        headers = {"Authorization": f"Bearer {self._piece_token}"} if self._piece_token else None
        return await self._rpc.get(self._piece_store + piece_cid, headers=headers, what=f"piece {piece_cid}")

    # -- pre-commit ---------------------------------------------------------------------------------------

    async def assign_ticket(self, sector: SectorId) -> Randomness:
        return await self._call("AssignTicket", wire.ticket_from_wire, wire.sector_id_to_wire(sector))

    async def submit_precommit(
        self, sector: SectorId, info: PreCommitInfo, reset: bool, *, proof_type: int | None = None
    ) -> SubmitReply:
        allocated = wire.allocated_id_to_wire(sector, self._proof_type(proof_type))
        return await self._call(
            "SubmitPreCommit", wire.submit_reply_from_wire, allocated, wire.precommit_to_wire(info), reset
        )

    def _proof_type(self, proof_type: int | None) -> int:
        if proof_type is None:
            raise ManagerError("the sector's seal proof type is needed to talk to this manager (task data proof_type)")
        return proof_type

    async def poll_precommit(self, sector: SectorId) -> PollReply:
        return await self._call("PollPreCommitState", wire.poll_reply_from_wire, wire.sector_id_to_wire(sector))

    # -- persistence --------------------------------------------------------------------------------------

    async def reserve_space(self, sector: SectorId, size: int, candidates: list[str]) -> StoreInfo | None:
        return await self._call(
            "StoreReserveSpace", wire.store_info_from_wire, wire.sector_id_to_wire(sector), size, candidates
        )

    async def store_info(self, instance: str) -> StoreInfo | None:
        return await self._call("StoreBasicInfo", wire.store_info_from_wire, instance)

    async def submit_persisted(self, sector: SectorId, instance: str, is_upgrade: bool) -> bool:
        return await self._call("SubmitPersistedEx", _boolean, wire.sector_id_to_wire(sector), instance, is_upgrade)

    # -- commit -------------------------------------------------------------------------------------------

    async def wait_seed(self, sector: SectorId, *, proof_type: int | None = None) -> SeedWait:
        return await self._call(
            "WaitSeed", wire.seed_wait_from_wire, wire.sector_id_to_wire(sector), self._proof_type(proof_type)
        )

    async def submit_proof(self, sector: SectorId, proof: bytes, reset: bool) -> SubmitReply:
        return await self._call(
            "SubmitProof", wire.submit_reply_from_wire, wire.sector_id_to_wire(sector), wire.proof_to_wire(proof), reset
        )

    async def poll_proof(self, sector: SectorId) -> PollReply:
        return await self._call("PollProofState", wire.poll_reply_from_wire, wire.sector_id_to_wire(sector))

    # -- reports ------------------------------------------------------------------------------------------

    async def report_state(self, sector: SectorId, report: StateReport) -> SectorStateReply:
        return await self._call(
            "ReportState",
            wire.sector_state_from_wire,
            wire.sector_id_to_wire(sector),
            wire.state_report_to_wire(report),
        )

    async def report_finalized(self, sector: SectorId) -> None:
        await self._rpc.call("Venus.ReportFinalized", wire.sector_id_to_wire(sector))

    async def report_aborted(self, sector: SectorId, reason: str) -> None:
        await self._rpc.call("Venus.ReportAborted", wire.sector_id_to_wire(sector), reason)

    async def worker_ping(self, ping: WorkerPing) -> None:
        await self._rpc.call("Venus.WorkerPing", wire.worker_ping_to_wire(ping))

    async def worker_pings(self) -> list[WorkerPingRecord]:
        """Every worker the manager heard from (`Venus.WorkerPingInfoList`, as `util worker list` shows)."""
        return await self._call("WorkerPingInfoList", wire.ping_records_from_wire)

    # -- snapup -------------------------------------------------------------------------------------------

    async def allocate_snapup_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> SnapupAllocation | None:
        spec = wire.snapup_spec_to_wire(allowed_miners, proof_types_of(allowed_sizes))
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        # The reference's method name, typo included.
        return await self._call("AllocateSanpUpSector", wire.snapup_allocation_from_wire, spec, headers=headers)

    async def submit_snapup_proof(self, sector: SectorId, proof: SnapupProof) -> SubmitReply:
        return await self._call(
            "SubmitSnapUpProof", wire.submit_reply_from_wire, wire.sector_id_to_wire(sector),
            wire.snapup_proof_to_wire(proof),
        )  # fmt: skip

    # -- rebuild and unseal -------------------------------------------------------------------------------

    async def allocate_rebuild_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> RebuildAllocation | None:
        spec = wire.allocate_spec_to_wire(allowed_miners, proof_types_of(allowed_sizes))
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        decode = requests_wire.rebuild_allocation_from_wire
        return await self._call("AllocateRebuildSector", decode, spec, headers=headers)

    async def allocate_unseal_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> UnsealAllocation | None:
        spec = wire.allocate_spec_to_wire(allowed_miners, proof_types_of(allowed_sizes))
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        decode = requests_wire.unseal_allocation_from_wire
        return await self._call("AllocateUnsealSector", decode, spec, headers=headers)

    async def acquire_unseal_dest(self, sector: SectorId, piece_cid: str) -> list[str]:
        piece = cid_object(piece_cid)
        return await self._call(
            "AcquireUnsealDest", requests_wire.dests_from_wire, wire.sector_id_to_wire(sector), piece
        )

    async def achieve_unseal_sector(self, sector: SectorId, piece_cid: str, error: str) -> None:
        await self._rpc.call("Venus.AchieveUnsealSector", wire.sector_id_to_wire(sector), cid_object(piece_cid), error)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"expected true or false, got {value!r}")
    return value

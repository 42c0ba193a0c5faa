"""Our manager types to and from the Venus wire, exactly as damocles-manager (go-jsonrpc) speaks it.

The one place that knows the wire: PascalCase fields with the reference's exceptions (`ID` of AllocatedSector,
`DealID`, `AllocationID`, `PieceCID`, `Id` of SectorStateResp), tickets, seeds and proofs as base64, CommR and
CommD as arrays of 32 integers, CIDs as `{"/": ...}`, `null` for what is absent. The client (`VenusClient`)
encodes its params and decodes the replies here; `devnet serve` decodes params and encodes replies with the
same functions, so the two ends cannot drift apart. Field names come from damocles-manager `core/types.go`
and damocles-worker `src/rpc/sealer/mod.rs`.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from sealer_fsm.manager._types import (
    AllocatedSector,
    Deal,
    FailureReport,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    SectorId,
    SectorStateReply,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StateReport,
    StoreInfo,
    SubmitReply,
    SubmitResult,
    ThreadSummary,
    WorkerPing,
    WorkerPingRecord,
    sector_size_of_proof,
)
from sealer_fsm.manager.venus._values import (
    Fields,
    WireError,
    base64_text,
    bytes32_array,
    cid_object,
    read_array,
    read_cid,
    read_unsigned,
)

Json = Any

# -- identities ---------------------------------------------------------------------------------------------

CodeT = TypeVar("CodeT", bound=enum.IntEnum)


def sector_id_to_wire(sector: SectorId) -> Json:
    return {"Miner": sector.miner, "Number": sector.number}


def sector_id_from_wire(value: Json, path: str = "SectorID") -> SectorId:
    return _sector_id(Fields(value, path))


def _sector_id(fields: Fields) -> SectorId:
    return SectorId(fields.unsigned("Miner"), fields.unsigned("Number"))


def allocated_sector_to_wire(sector: AllocatedSector) -> Json:
    if sector.proof_type is None:
        raise WireError(f"{sector.id.name}: a sector without a seal proof type cannot be sent on the Venus API")
    return allocated_id_to_wire(sector.id, sector.proof_type)


def allocated_id_to_wire(sector: SectorId, proof_type: int) -> Json:
    """An AllocatedSector from what a worker keeps of it: the id and the seal proof type."""
    return {"ID": sector_id_to_wire(sector), "ProofType": proof_type}


def allocated_sector_from_wire(value: Json, path: str = "AllocatedSector") -> AllocatedSector | None:
    return None if value is None else _allocated_sector(Fields(value, path))


def _allocated_sector(fields: Fields) -> AllocatedSector:
    proof_type = fields.signed("ProofType")
    size = sector_size_of_proof(proof_type)
    if size is None:
        raise WireError(f"{fields.path}.ProofType: unknown seal proof type {proof_type}")
    return AllocatedSector(_sector_id(fields.sub("ID")), size, proof_type)


# -- allocation specs ---------------------------------------------------------------------------------------


def allocate_spec_to_wire(allowed_miners: list[int] | None, allowed_proof_types: list[int] | None) -> Json:
    return {"AllowedMiners": allowed_miners, "AllowedProofTypes": allowed_proof_types}


def allocate_spec_from_wire(value: Json, path: str = "AllocateSectorSpec") -> tuple[list[int] | None, list[int] | None]:
    """(allowed miners, allowed sector sizes); null lists mean "any"."""
    return _allocate_spec(Fields(value, path))


def _allocate_spec(fields: Fields) -> tuple[list[int] | None, list[int] | None]:
    path = fields.path
    miners = fields.optional_array("AllowedMiners")
    proofs = fields.optional_array("AllowedProofTypes")
    allowed_miners = None if miners is None else [read_unsigned(m, f"{path}.AllowedMiners") for m in miners]
    if proofs is None:
        return allowed_miners, None
    sizes = []
    for proof in proofs:
        size = sector_size_of_proof(read_unsigned(proof, f"{path}.AllowedProofTypes"))
        if size is None:
            raise WireError(f"{path}.AllowedProofTypes: unknown seal proof type {proof}")
        sizes.append(size)
    return allowed_miners, sizes


def deals_spec_to_wire(max_deals: int | None, min_used_space: int | None) -> Json:
    return {"MaxDeals": max_deals, "MinUsedSpace": min_used_space}


def deals_spec_from_wire(value: Json, path: str = "AcquireDealsSpec") -> tuple[int | None, int | None]:
    return _deals_spec(Fields(value, path))


def _deals_spec(fields: Fields) -> tuple[int | None, int | None]:
    return fields.optional_unsigned("MaxDeals"), fields.optional_unsigned("MinUsedSpace")


# -- deals --------------------------------------------------------------------------------------------------


def deal_to_wire(deal: Deal) -> Json:
    """A deal as a SectorPieceV2 of the builtin market."""
    return {
        "Piece": {"Size": deal.piece_size, "PieceCID": cid_object(deal.piece_cid)},
        "DealInfo": {
            "DealID": deal.deal_id,
            "AllocationID": 0,
            "PieceCID": cid_object(deal.piece_cid),
            "PieceSize": deal.piece_size,
            "PayloadSize": deal.payload_size,
            "IsBuiltinMarket": True,
            "IsCompatible": False,
        },
    }


def deals_to_wire(deals: list[Deal]) -> Json:
    return [deal_to_wire(deal) for deal in deals]


def deals_from_wire(value: Json, path: str = "SectorPieces") -> list[Deal]:
    """Deals from SectorPieces (null is none). A piece without deal information is a filler the manager placed,
    which this worker does not lay out yet: refused rather than sealed in a different place."""
    if value is None:
        return []
    deals = []
    for index, item in enumerate(read_array(value, path)):
        fields = Fields(item, f"{path}[{index}]")
        piece = fields.sub("Piece")
        info = fields.optional_sub("DealInfo")
        deal_id = 0 if info is None else info.unsigned("DealID")
        allocation_id = 0 if info is None else info.unsigned("AllocationID")
        if info is None or (deal_id == 0 and allocation_id == 0):
            raise WireError(f"{path}[{index}]: a piece without a deal (a filler piece) is not supported")
        deals.append(Deal(deal_id or allocation_id, piece.cid("PieceCID"), piece.unsigned("Size"),
                          info.unsigned("PayloadSize")))  # fmt: skip
    return deals


# -- randomness, commitments, proofs ------------------------------------------------------------------------


def _randomness(fields: Fields, key: str) -> Randomness:
    data = fields.base64(key)
    if len(data) != 32:
        raise WireError(f"{fields.path}.{key}: expected 32 bytes of randomness, got {len(data)}")
    return Randomness(data, fields.signed("Epoch"))


def ticket_to_wire(ticket: Randomness) -> Json:
    return {"Ticket": base64_text(ticket.value), "Epoch": ticket.epoch}


def ticket_from_wire(value: Json, path: str = "Ticket") -> Randomness:
    return _randomness(Fields(value, path), "Ticket")


def precommit_to_wire(info: PreCommitInfo) -> Json:
    return {
        "CommR": bytes32_array(info.comm_r),
        "CommD": bytes32_array(info.comm_d),
        "Ticket": ticket_to_wire(info.ticket),
    }


def precommit_from_wire(value: Json, path: str = "PreCommitOnChainInfo") -> PreCommitInfo:
    fields = Fields(value, path)
    return PreCommitInfo(fields.bytes32("CommR"), fields.bytes32("CommD"), _randomness(fields.sub("Ticket"), "Ticket"))


def proof_to_wire(proof: bytes) -> Json:
    return {"Proof": base64_text(proof)}


def proof_from_wire(value: Json, path: str = "ProofOnChainInfo") -> bytes:
    return Fields(value, path).base64("Proof")


def seed_wait_to_wire(wait: SeedWait) -> Json:
    seed = None if wait.seed is None else {"Seed": base64_text(wait.seed.value), "Epoch": wait.seed.epoch}
    return {"ShouldWait": wait.should_wait, "Delay": max(0, round(wait.delay)), "Seed": seed}


def seed_wait_from_wire(value: Json, path: str = "WaitSeedResp") -> SeedWait:
    fields = Fields(value, path)
    seed = fields.optional_sub("Seed")
    randomness = None if seed is None else _randomness(seed, "Seed")
    return SeedWait(fields.boolean("ShouldWait"), float(fields.signed("Delay")), randomness)


# -- results ------------------------------------------------------------------------------------------------


def submit_reply_to_wire(reply: SubmitReply) -> Json:
    return {"Res": int(reply.result), "Desc": reply.desc or None}


def submit_reply_from_wire(value: Json, path: str = "SubmitResp") -> SubmitReply:
    fields = Fields(value, path)
    result = _code(fields, "Res", SubmitResult, "submit result")
    return SubmitReply(result, fields.optional_text("Desc") or "")


def poll_reply_to_wire(reply: PollReply) -> Json:
    return {"State": int(reply.state), "Desc": reply.desc or None}


def poll_reply_from_wire(value: Json, path: str = "PollStateResp") -> PollReply:
    fields = Fields(value, path)
    state = _code(fields, "State", OnChainState, "on-chain state")
    return PollReply(state, fields.optional_text("Desc") or "")


def _code(fields: Fields, key: str, codes: type[CodeT], what: str) -> CodeT:
    """The reference's numeric result code under `key`; a number it does not define is a WireError."""
    code = fields.unsigned(key)
    try:
        return codes(code)
    except ValueError as error:
        raise WireError(f"{fields.path}.{key}: unknown {what} {code}") from error


def store_info_to_wire(store: StoreInfo | None) -> Json:
    if store is None:
        return None
    return {"Name": store.name, "Path": store.path, "Strict": False, "ReadOnly": False, "Weight": 0, "Meta": {}}


def store_info_from_wire(value: Json, path: str = "StoreBasicInfo") -> StoreInfo | None:
    if value is None:
        return None
    fields = Fields(value, path)
    return StoreInfo(fields.text("Name"), fields.text("Path"))


# -- reports ------------------------------------------------------------------------------------------------


def state_report_to_wire(report: StateReport) -> Json:
    failure = None if report.failure is None else {"Level": report.failure.level, "Desc": report.failure.desc}
    return {
        "Worker": {"Instance": report.instance, "Location": report.location},
        "StateChange": {"Prev": report.previous, "Next": report.current, "Event": report.event},
        "Failure": failure,
    }


def state_report_from_wire(value: Json, path: str = "ReportStateReq") -> StateReport:
    fields = Fields(value, path)
    worker, change = fields.sub("Worker"), fields.sub("StateChange")
    failure = fields.optional_sub("Failure")
    return StateReport(
        instance=worker.text("Instance"),
        location=worker.text("Location"),
        previous=change.text("Prev"),
        current=change.text("Next"),
        event=change.text("Event"),
        failure=None if failure is None else FailureReport(failure.text("Level"), failure.text("Desc")),
    )


def sector_state_to_wire(sector: SectorId, reply: SectorStateReply) -> Json:
    # AbortReason is a pointer to the manager's string, "" when the sector was not aborted.
    return {"Id": sector_id_to_wire(sector), "Finalized": reply.finalized, "AbortReason": reply.abort_reason or ""}


def sector_state_from_wire(value: Json, path: str = "SectorStateResp") -> SectorStateReply:
    if value is None:  # managers before ReportState returned a state answered null
        return SectorStateReply(False)
    fields = Fields(value, path)
    return SectorStateReply(fields.boolean("Finalized"), fields.optional_text("AbortReason") or None)


# -- snapup -------------------------------------------------------------------------------------------------


def snapup_spec_to_wire(allowed_miners: list[int] | None, allowed_proof_types: list[int] | None) -> Json:
    return {
        "Sector": allocate_spec_to_wire(allowed_miners, allowed_proof_types),
        "Deals": deals_spec_to_wire(None, None),
    }


def snapup_spec_from_wire(value: Json, path: str = "AllocateSnapUpSpec") -> tuple[list[int] | None, list[int] | None]:
    fields = Fields(value, path)
    _deals_spec(fields.sub("Deals"))
    return _allocate_spec(fields.sub("Sector"))


def snapup_allocation_to_wire(allocation: SnapupAllocation | None) -> Json:
    if allocation is None:
        return None
    return {
        "Sector": allocated_sector_to_wire(allocation.sector),
        "Pieces": deals_to_wire(allocation.deals),
        "Public": {"CommR": bytes32_array(allocation.old_comm_r)},
        "Private": {"AccessInstance": allocation.access_instance},
    }


def snapup_allocation_from_wire(value: Json, path: str = "AllocatedSnapUpSector") -> SnapupAllocation | None:
    if value is None:
        return None
    fields = Fields(value, path)
    return SnapupAllocation(
        sector=_allocated_sector(fields.sub("Sector")),
        deals=deals_from_wire(fields.array("Pieces"), f"{path}.Pieces"),
        old_comm_r=fields.sub("Public").bytes32("CommR"),
        access_instance=fields.sub("Private").text("AccessInstance"),
    )


def snapup_proof_to_wire(proof: SnapupProof) -> Json:
    return {
        "CommR": bytes32_array(proof.comm_r),
        "CommD": bytes32_array(proof.comm_d),
        "AccessInstance": proof.access_instance,
        "Pieces": [cid_object(cid) for cid in proof.piece_cids],
        "Proof": base64_text(proof.proof),
    }


def snapup_proof_from_wire(value: Json, path: str = "SnapUpOnChainInfo") -> SnapupProof:
    fields = Fields(value, path)
    pieces = [read_cid(item, f"{path}.Pieces[{index}]") for index, item in enumerate(fields.array("Pieces"))]
    return SnapupProof(
        fields.bytes32("CommR"), fields.bytes32("CommD"), fields.text("AccessInstance"), pieces, fields.base64("Proof")
    )


# -- workers ------------------------------------------------------------------------------------------------

_SUMMARY_FIELDS = ("Threads", "Empty", "Paused", "Running", "Waiting", "Errors")


def worker_ping_to_wire(ping: WorkerPing) -> Json:
    summary = ping.summary
    counts = (summary.threads, summary.empty, summary.paused, summary.running, summary.waiting, summary.errors)
    return {
        "Name": ping.name,
        "Dest": ping.dest,
        "Version": ping.version,
        "Summary": dict(zip(_SUMMARY_FIELDS, counts, strict=True)),
    }


def worker_ping_from_wire(value: Json, path: str = "WorkerInfo") -> WorkerPing:
    return _worker_ping(Fields(value, path))


def _worker_ping(fields: Fields) -> WorkerPing:
    summary = fields.sub("Summary")
    counts = ThreadSummary(*(summary.unsigned(name) for name in _SUMMARY_FIELDS))
    return WorkerPing(fields.text("Name"), fields.text("Dest"), fields.text("Version"), counts)


def ping_record_to_wire(record: WorkerPingRecord) -> Json:
    return {"Info": worker_ping_to_wire(record.ping), "LastPing": record.last_ping}


def ping_records_from_wire(value: Json, path: str = "[WorkerPingInfo]") -> list[WorkerPingRecord]:
    records = []
    for index, item in enumerate(read_array(value, path)):
        fields = Fields(item, f"{path}[{index}]")
        records.append(WorkerPingRecord(_worker_ping(fields.sub("Info")), fields.signed("LastPing")))
    return records

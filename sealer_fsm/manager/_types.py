"""The values exchanged with a sector manager, with the reference's result codes (`Venus.*` API).

Every value that lands in task data has a JSON form (`to_json` / `from_json`): task data is stored as JSON and
must read back identically after a restart.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sealer_fsm.proofs import SEAL_PROOFS, SnapUpdate

# Filecoin RegisteredSealProof ids of the V1_1 proofs, by sector size (rust-filecoin-proofs-api registry): the
# proof a manager hands out unless told otherwise.
SEAL_PROOF_TYPES = {
    2 << 10: 5,
    8 << 20: 6,
    512 << 20: 7,
    32 << 30: 8,
    64 << 30: 9,
}

# The call an abort owes the manager; when it fails, the abort step defers it under this kind (see wiring.py).
REPORT_ABORTED = "ReportAborted"


def sector_size_of_proof(proof_type: int) -> int | None:
    """The sector size of a RegisteredSealProof id, None for an id that is not registered."""
    proof = SEAL_PROOFS.get(proof_type)
    return None if proof is None else proof.sector_size


class ManagerError(Exception):
    """A sector-manager call failed (network, RPC error): the step should retry later (Temporary)."""


class SectorStateNotFound(ManagerError):
    """The manager has no state for the sector (JSON-RPC error 11001 of the reference): it was aborted or removed
    on the manager's side, so the worker aborts it too, as the reference worker does."""

    code = 11001


class SubmitResult(enum.IntEnum):
    """`SubmitResult` of the reference: the answer to a pre-commit, proof or snapup submission."""

    ACCEPTED = 1
    DUPLICATE_SUBMIT = 2
    MISMATCHED_SUBMISSION = 3
    REJECTED = 4
    FILES_MISSED = 5


class OnChainState(enum.IntEnum):
    """`OnChainState` of the reference: where a submitted message is on chain."""

    PENDING = 1
    PACKED = 2
    LANDED = 3
    NOT_FOUND = 4
    FAILED = 5
    PERM_FAILED = 6
    SHOULD_ABORT = 7


@dataclass(frozen=True)
class SectorId:
    miner: int
    number: int

    @property
    def name(self) -> str:
        """The reference's sector name, used for file names and shown to operators: `s-t01000-5`."""
        return f"s-t0{self.miner}-{self.number}"

    @classmethod
    def parse(cls, name: str) -> SectorId:
        prefix, miner, number = name.split("-")
        if prefix != "s" or not miner.startswith("t0"):
            raise ValueError(f"not a sector name: {name!r}")
        return cls(int(miner[2:]), int(number))


@dataclass(frozen=True)
class AllocatedSector:
    id: SectorId
    sector_size: int
    # The registered seal proof the manager chose (None: the sector size has none); steps read it from task data.
    proof_type: int | None

    def task_data(self) -> dict[str, Any]:
        """The task-data keys every step finds the sector by."""
        return {
            "sector_id": self.id.name,
            "miner": self.id.miner,
            "number": self.id.number,
            "sector_size": self.sector_size,
            "proof_type": self.proof_type,
        }


@dataclass(frozen=True)
class Deal:
    """A deal's piece: its CID, padded piece size and raw payload size."""

    deal_id: int
    piece_cid: str
    piece_size: int
    payload_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "deal_id": self.deal_id,
            "piece_cid": self.piece_cid,
            "piece_size": self.piece_size,
            "payload_size": self.payload_size,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Deal:
        return cls(raw["deal_id"], raw["piece_cid"], raw["piece_size"], raw["payload_size"])


@dataclass(frozen=True)
class Randomness:
    """Chain randomness drawn at an epoch: a ticket (for PC1) or a seed (for C1)."""

    value: bytes
    epoch: int

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value.hex(), "epoch": self.epoch}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Randomness:
        return cls(bytes.fromhex(raw["value"]), raw["epoch"])


@dataclass(frozen=True)
class PreCommitInfo:
    comm_r: bytes
    comm_d: bytes
    ticket: Randomness


@dataclass(frozen=True)
class SubmitReply:
    result: SubmitResult
    desc: str = ""


@dataclass(frozen=True)
class PollReply:
    state: OnChainState
    desc: str = ""


@dataclass(frozen=True)
class SeedWait:
    """The answer to WaitSeed: either a seed, or how long to wait before asking again."""

    should_wait: bool
    delay: float
    seed: Randomness | None


@dataclass(frozen=True)
class StoreInfo:
    """A persist store chosen by the manager; the worker maps the name to its own attached directory."""

    name: str
    path: str


@dataclass(frozen=True)
class SnapupAllocation:
    """A finished committed-capacity sector offered for an upgrade, with the deals to put in it."""

    sector: AllocatedSector
    deals: list[Deal]
    old_comm_r: bytes
    access_instance: str


@dataclass(frozen=True)
class SnapupProof:
    comm_r: bytes
    comm_d: bytes
    access_instance: str
    piece_cids: list[str]
    proof: bytes


@dataclass(frozen=True)
class UpgradeInfo:
    """A sector's Snap Deals upgrade as the chain knows it: the CommR after the upgrade (the reference's
    `UpgradePublic.CommR`) and the deals put into it."""

    comm_r: bytes
    deals: list[Deal]


@dataclass(frozen=True)
class RebuildAllocation:
    """A finished sector whose files were lost, to seal again (the reference's `SectorRebuildInfo`)."""

    sector: AllocatedSector
    ticket: Randomness  # the ticket it was sealed with: the same ticket gives the same replica
    deals: list[Deal]  # the deals sealed into it; none for a committed-capacity sector, upgraded or not
    # The chain's CommR of the sealing, which the rebuilt one must equal; None when the manager does not say
    # (the reference's SectorRebuildInfo has no CommR for a sector that was not upgraded).
    comm_r: bytes | None
    upgrade: UpgradeInfo | None  # set for an upgraded sector: its update is rebuilt too

    def task_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            **self.sector.task_data(),
            "ticket": self.ticket.to_json(),
            "deals": [deal.to_json() for deal in self.deals],
        }
        if self.comm_r is not None:
            data["chain_comm_r"] = self.comm_r.hex()
        if self.upgrade is not None:
            data["upgrade"] = {
                "comm_r": self.upgrade.comm_r.hex(),
                "deals": [deal.to_json() for deal in self.upgrade.deals],
            }
        return data


@dataclass(frozen=True)
class UnsealAllocation:
    """A deal's piece to read back out of a sealed sector (the reference's `SectorUnsealInfo`)."""

    sector: AllocatedSector
    piece_cid: str
    offset: int  # where the piece starts in the sector, in unpadded bytes
    size: int  # the piece's unpadded size
    ticket: Randomness  # the ticket the sector was sealed with
    comm_d: bytes  # the CommD it was sealed with (the pre-commit's)
    access_instance: str  # the store holding its replica
    # For a piece of a Snap Deals upgrade: the new data's CommD and the CommR before the upgrade, which decode
    # the updated replica (not in the reference, whose unseal reads sealed replicas only).
    upgrade: SnapUpdate | None = None

    def task_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            **self.sector.task_data(),
            "ticket": self.ticket.to_json(),
            "comm_d": self.comm_d.hex(),
            "access_instance": self.access_instance,
            "unseal": {"piece_cid": self.piece_cid, "offset": self.offset, "size": self.size},
        }
        if self.upgrade is not None:
            data["unseal"]["upgrade"] = {
                "comm_d_new": self.upgrade.comm_d_new.hex(),
                "comm_r_old": self.upgrade.comm_r_old.hex(),
            }
        return data


@dataclass(frozen=True)
class FailureReport:
    """A failed step as the reference reports it: its level (`Temporary`, `Permanent`, `Abort`, `Critical`)."""

    level: str
    desc: str


@dataclass(frozen=True)
class StateReport:
    """What the worker tells the manager after a step (the reference's ReportStateReq)."""

    instance: str
    location: str
    previous: str
    current: str
    event: str
    failure: FailureReport | None = None


@dataclass(frozen=True)
class SectorStateReply:
    """The manager's view of a sector in answer to a report: `finalized` with the worker still working on it
    means the manager dropped it (`damocles-manager util sealer sectors abort`), and the worker aborts it."""

    finalized: bool
    abort_reason: str | None = None


@dataclass(frozen=True)
class ThreadSummary:
    """Sealing threads of a worker by what they do (the reference's WorkerInfoSummary)."""

    threads: int
    empty: int
    paused: int
    running: int
    waiting: int
    errors: int


@dataclass(frozen=True)
class WorkerPing:
    """The worker's periodic "I am alive" (WorkerPing): its name, control address and threads."""

    name: str
    dest: str
    version: str
    summary: ThreadSummary


@dataclass(frozen=True)
class WorkerPingRecord:
    """A ping as the manager keeps it: the last one of each worker name, with its time (Unix seconds)."""

    ping: WorkerPing
    last_ping: int

"""The sector manager: the interface the sealing steps call, its value types, and its implementations.

`devnet` (the default) is embedded: a simulated chain in the worker's home; `venus.VenusClient` reaches a
damocles-manager or another host's `sealer-fsm devnet serve`. Steps reach the manager through `ctx.manager` and
never know which implementation answers.
"""

from sealer_fsm.manager._interface import SectorManager
from sealer_fsm.manager._metered import CallObserver, MeteredManager
from sealer_fsm.manager._types import (
    REPORT_ABORTED,
    SEAL_PROOF_TYPES,
    AllocatedSector,
    Deal,
    FailureReport,
    ManagerError,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    RebuildAllocation,
    SectorId,
    SectorStateNotFound,
    SectorStateReply,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StateReport,
    StoreInfo,
    SubmitReply,
    SubmitResult,
    ThreadSummary,
    UnsealAllocation,
    UpgradeInfo,
    WorkerPing,
    WorkerPingRecord,
    sector_size_of_proof,
)

__all__ = [
    "REPORT_ABORTED",
    "SEAL_PROOF_TYPES",
    "AllocatedSector",
    "CallObserver",
    "Deal",
    "FailureReport",
    "ManagerError",
    "MeteredManager",
    "OnChainState",
    "PollReply",
    "PreCommitInfo",
    "Randomness",
    "RebuildAllocation",
    "SectorId",
    "SectorManager",
    "SectorStateNotFound",
    "SectorStateReply",
    "SeedWait",
    "SnapupAllocation",
    "SnapupProof",
    "StateReport",
    "StoreInfo",
    "SubmitReply",
    "SubmitResult",
    "ThreadSummary",
    "UnsealAllocation",
    "UpgradeInfo",
    "WorkerPing",
    "WorkerPingRecord",
    "sector_size_of_proof",
]

"""The sector manager: the interface the sealing steps call, its value types, and its implementations.

`devnet` (the default) is embedded: a simulated chain in the worker's home. Steps reach the manager through
`ctx.manager` and never know which implementation answers.
"""

from sealer_fsm.manager._interface import SectorManager
from sealer_fsm.manager._metered import CallObserver, MeteredManager
from sealer_fsm.manager._reporter import REPORT_ABORTED, StateReporter
from sealer_fsm.manager._types import (
    SEAL_PROOF_TYPES,
    AllocatedSector,
    Deal,
    ManagerError,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    SectorId,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StoreInfo,
    SubmitReply,
    SubmitResult,
)

__all__ = [
    "REPORT_ABORTED",
    "SEAL_PROOF_TYPES",
    "AllocatedSector",
    "CallObserver",
    "Deal",
    "ManagerError",
    "MeteredManager",
    "OnChainState",
    "PollReply",
    "PreCommitInfo",
    "Randomness",
    "SectorId",
    "SectorManager",
    "SeedWait",
    "SnapupAllocation",
    "SnapupProof",
    "StateReporter",
    "StoreInfo",
    "SubmitReply",
    "SubmitResult",
]

"""The sector manager: the interface the sealing steps call, its value types, and its implementations.

`devnet` (the default) is embedded: a simulated chain in the worker's home. Steps reach the manager through
`ctx.services["manager"]` and never know which implementation answers.
"""

from sealer_fsm.manager._interface import SectorManager
from sealer_fsm.manager._types import (
    SEAL_PROOF_TYPES,
    AllocatedSector,
    Deal,
    ManagerError,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    RebuildAllocation,
    SectorId,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StoreInfo,
    SubmitReply,
    SubmitResult,
    UnsealAllocation,
    UpgradeInfo,
)

__all__ = [
    "SEAL_PROOF_TYPES",
    "AllocatedSector",
    "Deal",
    "ManagerError",
    "OnChainState",
    "PollReply",
    "PreCommitInfo",
    "Randomness",
    "RebuildAllocation",
    "SectorId",
    "SectorManager",
    "SeedWait",
    "SnapupAllocation",
    "SnapupProof",
    "StoreInfo",
    "SubmitReply",
    "SubmitResult",
    "UnsealAllocation",
    "UpgradeInfo",
]

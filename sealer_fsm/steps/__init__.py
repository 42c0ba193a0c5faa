"""The built-in steps of the shipped plans, one module per step family.

`builtin_registry()` maps every step name used in `plans/sealer.yaml` and `plans/snapup.yaml` to its function;
the worker and `sealer-fsm plan check` both use it.
"""

from __future__ import annotations

from sealer_fsm.registry import StepRegistry
from sealer_fsm.steps import allocation, finalization, persistence, pieces, sealing, snap, submission

_STEPS = {
    "allocate_sector": allocation.allocate_sector,
    "acquire_deals": allocation.acquire_deals,
    "allocate_snapup_sector": allocation.allocate_snapup_sector,
    "add_pieces": pieces.add_pieces,
    "build_tree_d": pieces.build_tree_d,
    "assign_ticket": sealing.assign_ticket,
    "pc1": sealing.pc1,
    "pc2": sealing.pc2,
    "c1": sealing.c1,
    "c2": sealing.c2,
    "submit_precommit": submission.submit_precommit,
    "poll_precommit": submission.poll_precommit,
    "submit_persisted": submission.submit_persisted,
    "wait_seed": submission.wait_seed,
    "submit_proof": submission.submit_proof,
    "poll_proof": submission.poll_proof,
    "submit_snapup_proof": submission.submit_snapup_proof,
    "persist_sealed": persistence.persist_sealed,
    "persist_update": persistence.persist_update,
    "snap_encode": snap.snap_encode,
    "snap_prove": snap.snap_prove,
    "report_finalized": finalization.report_finalized,
    "abort_sector": finalization.abort_sector,
}


def builtin_registry() -> StepRegistry:
    """A fresh registry of the built-in steps (callers may add their own steps to it)."""
    return StepRegistry(_STEPS)

"""The built-in steps of the shipped plans, one module per step family.

`builtin_registry()` maps every step name used in the shipped plans (`plans/*.yaml`) to its function;
the worker (with the stages its machine file simulates) and `sealer-fsm plan check` both use it.
"""

from __future__ import annotations

from collections.abc import Collection

from sealer_fsm.registry import StepRegistry
from sealer_fsm.steps import (
    allocation,
    finalization,
    persistence,
    pieces,
    rebuild,
    sealing,
    snap,
    submission,
    unseal,
)

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
    "c2": sealing.simulated_c2,
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
    "allocate_rebuild_sector": allocation.allocate_rebuild_sector,
    "check_sealed": rebuild.check_sealed,
    "prepare_for_snapup": rebuild.prepare_for_snapup,
    "rebuild_snap_encode": rebuild.rebuild_snap_encode,
    "persist_rebuilt": persistence.persist_rebuilt,
    "allocate_unseal_sector": allocation.allocate_unseal_sector,
    "unseal_piece": unseal.unseal_piece,
    "upload_piece": unseal.upload_piece,
    "finish_unseal": unseal.finish_unseal,
    "abort_unseal": unseal.abort_unseal,
}


# The simulated stand-ins of proof stages that have a real step: `[proofs] simulate` swaps them in. (Stages whose
# step is still simulated, like c2, need none.)
_SIMULATED_STAGES = {
    "pc1": sealing.simulated_pc1,
    "pc2": sealing.simulated_pc2,
    "c1": sealing.simulated_c1,
    "snap_encode": snap.simulated_snap_encode,
}
# Other steps doing a stage's work, swapped with it: the rebuild plan encodes an upgrade as snapup did.
_SIMULATED_ALSO = {
    "snap_encode": {"rebuild_snap_encode": rebuild.simulated_rebuild_snap_encode},
}


# Steps simulated by their built-in processor, and real when a program of the operator's runs their stage
# (`[[processors.<stage>]]` with a `bin`): an external C2 prover makes real proofs.
_PROVEN_EXTERNALLY = {
    "c2": sealing.c2,
}


def builtin_registry(simulate: Collection[str] = (), proven_externally: Collection[str] = ()) -> StepRegistry:
    """A fresh registry of the built-in steps (callers may add their own steps to it). `simulate` names the proof
    stages (config.PROOF_STAGES) this worker runs simulated; their steps are then the marked stand-ins, so every
    view that asks `is_simulated` says so. `proven_externally` names the stages an operator's own program
    computes; their steps are then not marked simulated."""
    steps = dict(_STEPS)
    for stage in proven_externally:
        if stage in _PROVEN_EXTERNALLY:
            steps[stage] = _PROVEN_EXTERNALLY[stage]
    stages = set(simulate)
    if "pc1" in stages:
        stages.add("pc2")  # a real PC2 needs PC1's layers, which a simulated PC1 does not write
    if "pc2" in stages:
        stages.add("c1")  # a real C1 needs PC2's trees
    for stage in stages:
        if stage in _SIMULATED_STAGES:
            steps[stage] = _SIMULATED_STAGES[stage]
        steps.update(_SIMULATED_ALSO.get(stage, {}))
    return StepRegistry(steps)

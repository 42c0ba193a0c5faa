"""The built-in stage implementations: what a stage runs in the worker's process, and in `sealer-fsm processor
<stage>`, the worker's own external processor.

Each takes the stage's task (the reference's JSON shape, see `sealer_fsm.processors.tasks`) and a CancelToken,
blocks until done (the caller runs it on a worker thread), and returns the stage's output as JSON values. It
fails as a step does (Permanent for bad input, Temporary for a full disk, ...), or raises `Cancelled` when the
token stops it. The worker hands `builtin_stage` to its `Processors`.
"""

from __future__ import annotations

from sealer_fsm.processors import StageFailed, StageFunction
from sealer_fsm.steps.stages import _commit, _sealing, _transfer, _unseal
from sealer_fsm.steps.stages._commit import prove as prove_c1

_STAGES: dict[str, StageFunction] = {
    "pc1": _sealing.pc1,
    "pc2": _sealing.pc2,
    "snap_encode": _sealing.snap_encode,
    "c1": _commit.c1,
    "c2": _commit.c2,
    "transfer": _transfer.transfer,
    "unseal": _unseal.unseal,
}


__all__ = ["builtin_stage", "builtin_stages", "prove_c1"]


def builtin_stages() -> tuple[str, ...]:
    """The stages `sealer-fsm processor <stage>` can run."""
    return tuple(_STAGES)


def builtin_stage(stage: str) -> StageFunction:
    """The built-in implementation of `stage`; a permanent StageFailed when this worker has none."""
    function = _STAGES.get(stage)
    if function is None:
        raise StageFailed(f"sealer-fsm has no built-in {stage} processor; configure [[processors.{stage}]] with a bin")
    return function

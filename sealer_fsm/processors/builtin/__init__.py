"""The built-in stage implementations: what runs in-process, and what `sealer-fsm processor <stage>` runs.

Each takes the stage's task (the reference's JSON shape, see `sealer_fsm.processors.tasks`) and a CancelToken,
blocks until done (the caller runs it on a worker thread), and returns the stage's output as JSON values.
It raises StageFailed (permanent for bad input, ...), or `Cancelled` when the token stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sealer_fsm.processors._failure import StageFailed
from sealer_fsm.processors.builtin import _sealing, _transfer
from sealer_fsm.proofs import CancelToken

StageFunction = Callable[[Any, CancelToken], Any]

_STAGES: dict[str, StageFunction] = {
    "pc1": _sealing.pc1,
    "pc2": _sealing.pc2,
    "c1": _sealing.c1,
    "c2": _sealing.c2,
    "transfer": _transfer.transfer,
}


def builtin_stages() -> tuple[str, ...]:
    """The stages `sealer-fsm processor <stage>` can run."""
    return tuple(_STAGES)


def builtin_stage(stage: str) -> StageFunction:
    """The built-in implementation of `stage`; a permanent StageFailed when this worker has none."""
    function = _STAGES.get(stage)
    if function is None:
        raise StageFailed(f"sealer-fsm has no built-in {stage} processor; configure [[processors.{stage}]] with a bin")
    return function

"""Our own processor child (`sealer-fsm processor <stage>`, the same consumer and built-in stage), with holds a
test controls, so that calls overlap, or are still running when the test kills or cancels them.

    python tests/support/held_processor.py <stage>

Before running the built-in stage, a task waits (polling its cancel token, so it can be cancelled):
- while the file `$HELD_GATE` exists, if the task has `"hold": true` or `$HELD_ALL` is set;
- with `$HELD_PAIR=<dir>`: the first task of all children to get here waits until a second one has started,
  so the trace is sure to show two calls of the stage at once when the limits allow two;
- `$HELD_SECONDS` seconds.
The extra `hold` field is ignored by the built-in stages, as any unknown field of a task is.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from sealer_fsm.processors import run_consumer
from sealer_fsm.proofs import CancelToken
from sealer_fsm.steps.stages import builtin_stage

POLL = 0.01
PAIR_DEADLINE = 60.0


def _wait(condition: Any, cancel: CancelToken, deadline: float = float("inf")) -> None:
    start = time.monotonic()
    while condition() and time.monotonic() - start < deadline:
        cancel.check("held task")
        time.sleep(POLL)


def _claim(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def held(stage: str) -> Any:
    function = builtin_stage(stage)

    def run(task: Any, cancel: CancelToken) -> Any:
        gate = os.environ.get("HELD_GATE")
        if gate and (os.environ.get("HELD_ALL") or (isinstance(task, dict) and task.get("hold") is True)):
            _wait(Path(gate).exists, cancel)
        pair = os.environ.get("HELD_PAIR")
        if pair:
            first, second = Path(pair) / "first", Path(pair) / "second"
            if _claim(first):
                _wait(lambda: not second.exists(), cancel, PAIR_DEADLINE)
            else:
                _claim(second)
        seconds = float(os.environ.get("HELD_SECONDS", "0"))
        _wait(lambda: True, cancel, seconds)
        return function(task, cancel)

    return run


if __name__ == "__main__":
    sys.exit(run_consumer(sys.argv[1], held(sys.argv[1])))

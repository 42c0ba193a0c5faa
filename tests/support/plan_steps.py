"""Steps tests name `module:function` from a plan: long blocking work like a TreeD over a big file (each writes
`started` in its thread's location once its blocking work runs, so a test knows when to signal), or an abort.
"""

from __future__ import annotations

import time

from sealer_fsm.proofs import tree_root_of_file
from sealer_fsm.runtime import AbortTask, StepContext

SPARSE_SIZE = 32 << 30  # a 32 GiB sector's staged file, sparse: minutes of hashing, no disk used


def _started(ctx: StepContext) -> None:
    (ctx.location / "started").write_text(ctx.state)


async def hash_a_big_sparse_file(ctx: StepContext) -> str:
    """TreeD over a sparse 32 GiB file (the C hashing polls the cancel token between chunks)."""
    path = ctx.location / "sparse-32GiB"
    with path.open("wb") as file:
        file.truncate(SPARSE_SIZE)
    _started(ctx)
    await ctx.run_blocking(tree_root_of_file, path, cancel=ctx.cancel_token)
    return "AcquireDeals"


async def sleep_ignoring_cancellation(ctx: StepContext) -> str:
    """Blocking work that never looks at its cancel token (a library call that cannot be interrupted)."""
    _started(ctx)
    await ctx.run_blocking(time.sleep, 600)
    return "AcquireDeals"


async def abort_the_sector(ctx: StepContext) -> str:
    """The chain dropped the sector (as a ShouldAbort would say): the task aborts."""
    raise AbortTask(f"test: {ctx.sector} cannot be sealed")

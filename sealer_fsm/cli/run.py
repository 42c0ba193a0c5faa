"""`sealer-fsm run`: the worker's main job, sealing with the configured sector manager until drained.

SIGTERM and SIGINT drain the worker (no new tasks; running steps stop at their next checkpoint) and the
command exits 0. Services that run next to the worker (the progress view today; a control server later)
are async context managers entered around `worker.run()`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from sealer_fsm.assembly import build_worker
from sealer_fsm.cli._common import CliError
from sealer_fsm.cli._progress import RunProgress
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.plans import PlanError
from sealer_fsm.runtime import Worker
from sealer_fsm.store import StoreError

Service = Callable[[], AbstractAsyncContextManager[object]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the sealing threads of a machine file")
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="machine file (TOML)")
    parser.add_argument("--home", metavar="DIR", help="the worker's home (default: var/<worker name>)")
    parser.add_argument(
        "--sectors", type=_positive, metavar="N", help="exit 0 once N sectors finished (aborted ones do not count)"
    )
    parser.set_defaults(handler=_run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_machine_file(args.config, args.home)
        worker = build_worker(config)
    except (ConfigError, PlanError, StoreError) as error:
        raise CliError(str(error).replace("\n", "; ")) from error
    progress = RunProgress(worker, args.sectors)
    asyncio.run(serve(worker, [lambda: progress.shown(live=sys.stdout.isatty())]))
    print(progress.summary())
    return 0


async def serve(worker: Worker, services: Sequence[Service]) -> None:
    """Run the worker with `services` around it until it is drained (by a signal or a listener)."""
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, worker.drain)
    async with AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service())
        await worker.run()

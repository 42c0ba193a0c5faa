"""A real worker (built-in steps, embedded devnet) for crash tests, optionally killing itself at a chosen moment.

    python tests/support/devnet_worker.py MACHINE HOME [--kill-after METHOD[:N]] [--sectors N]

`--kill-after allocate_sector:2` SIGKILLs the process right after the manager answered its second
`allocate_sector` call with a sector: the manager has applied the call, the worker has not stored the answer.
`--sectors N` drains and exits 0 once N tasks finished (in this run or earlier ones). SIGTERM drains and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.runtime import Worker, WorkerListener


class KillAfter:
    """The manager, SIGKILLing this process right after the `count`-th answer of `method`."""

    def __init__(self, inner: Any, method: str, count: int) -> None:
        self._inner, self._method, self._left = inner, method, count

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method or not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        async def call(*args: Any, **kwargs: Any) -> Any:
            result = await attribute(*args, **kwargs)
            if result is None and name.startswith("allocate"):
                return result  # nothing was allocated: not the moment this test is after
            self._left -= 1
            if self._left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return call


class StopAfter(WorkerListener):
    def __init__(self, worker: Worker, sectors: int) -> None:
        self._worker, self._sectors = worker, sectors

    def task_closed(self, thread: Any, task: Any) -> None:
        finished = sum(1 for stored in self._worker.store.tasks() if stored.state == "Finished")
        if finished >= self._sectors:
            self._worker.drain()


async def main(arguments: argparse.Namespace) -> None:
    worker = build_worker(load_machine_file(arguments.machine, home=arguments.home))
    if arguments.kill_after:
        method, _, count = arguments.kill_after.partition(":")
        object.__setattr__(worker.services, "manager", KillAfter(worker.services.manager, method, int(count or 1)))
    if arguments.sectors:
        worker.add_listener(StopAfter(worker, arguments.sectors))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.drain)
    await worker.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("machine", type=Path)
    parser.add_argument("home", type=Path)
    parser.add_argument("--kill-after")
    parser.add_argument("--sectors", type=int)
    asyncio.run(main(parser.parse_args()))

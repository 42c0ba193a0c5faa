"""A worker process for the SIGKILL test: random but valid outcomes, and a journal of every committed event.

The journal line is written only after the store committed the event, so after any SIGKILL every journal line
must be found in the history (the converse may lag by one line: killed between commit and journal write).
Run: python tests/_crash_worker.py MACHINE_FILE HOME JOURNAL
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sealer_fsm.runtime import Outcome, Temporary, WorkerListener
from tests.harness import build_worker, registry_for

LOOP_EVENTS = {"ReSubmitPC", "ReSubmitProof", "RePersist"}


async def random_step(ctx):
    await asyncio.sleep(random.uniform(0, 0.002))
    spec = ctx.plan.state(ctx.state)
    if not spec.on:
        return None
    if random.random() < 0.05:
        raise Temporary("injected")
    events = list(spec.on)
    forward = [event for event in events if event not in LOOP_EVENTS]
    event = random.choice(events) if random.random() < 0.3 else forward[-1]
    sector = ctx.data.get("sector_id") or f"s-t01000-{ctx.thread_index}-{random.getrandbits(32)}"
    return Outcome(event, {"sector_id": sector, "applied": ctx.data.get("applied", 0) + 1})


class Journal(WorkerListener):
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def state_changed(self, thread, source, event, destination):
        task = thread.task
        line = f"{task.id} {source} {event} {destination} {task.data.get('applied', 0)}\n"
        os.write(self._fd, line.encode())


async def main(machine: str, home: str, journal: str) -> None:
    worker = build_worker(Path(machine), Path(home), registry_for(random_step))
    worker.add_listener(Journal(journal))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.drain)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

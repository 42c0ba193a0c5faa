"""A devnet chain with finished sectors, sealed for real at 2KiB, to start rebuild and unseal stories from.

`seal_chain` runs sealer and snapup threads until a sector with deals and an upgraded sector are finished, then
keeps only what outlives a worker: the devnet's database and the stores. `fresh_home` copies them into a new home
for each test, whose worker (with rebuild or unseal threads) starts with an empty task store.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _devnet_helpers import ChainClock, devnet_machine

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.runtime import Worker, WorkerListener

SEED = 3
BLOCK_TIME = 0.01


@dataclass(frozen=True)
class SealedChain:
    folder: Path  # devnet.db and store-a, store-b
    dealt: str  # a sector sealed with deals
    dealt_deals: list[dict[str, Any]]
    upgraded: str  # a sector sealed as CC, then upgraded
    upgrade_deals: list[dict[str, Any]]


class _Enough(WorkerListener):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def task_closed(self, thread: Any, task: Any) -> None:
        finished = [t for t in self.worker.store.tasks() if t.state == "Finished"]
        if any(t.plan == "sealer" and t.data["deals"] for t in finished) and any(t.plan == "snapup" for t in finished):
            self.worker.drain()


def seal_chain(folder: Path) -> SealedChain:
    home = folder / "sealing-home"
    machine = devnet_machine(folder, ["sealer", "sealer", "snapup"], {"seed": SEED}, "enable_deals = true")
    clock = ChainClock(BLOCK_TIME)
    worker = build_worker(load_machine_file(machine, home), clock=clock, manager_calls=clock)
    worker.add_listener(_Enough(worker))
    try:
        asyncio.run(asyncio.wait_for(worker.run(), 120))
        finished = [t for t in worker.store.tasks() if t.state == "Finished"]
    finally:
        worker.close()
    dealt = next(t for t in finished if t.plan == "sealer" and t.data["deals"])
    upgraded = next(t for t in finished if t.plan == "snapup")
    chain = folder / "chain"
    chain.mkdir()
    for path in home.glob("devnet.db*"):
        shutil.copy(path, chain / path.name)
    for store in ("store-a", "store-b"):
        shutil.copytree(home / store, chain / store)
    return SealedChain(chain, dealt.sector, dealt.data["deals"], upgraded.sector, upgraded.data["deals"])


def fresh_home(chain: SealedChain, home: Path) -> Path:
    """A new worker home holding a copy of the chain and its stores."""
    shutil.copytree(chain.folder, home)
    return home


def machine_for(
    folder: Path, plans: list[str], devnet: dict[str, Any] | None = None, sealing: str = "", extra: str = ""
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return devnet_machine(folder, plans, {"seed": SEED, **(devnet or {})}, sealing, extra)

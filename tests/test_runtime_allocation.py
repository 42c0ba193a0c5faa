"""Allocation is idempotent across the worker's and the manager's databases: the worker stores a request id
before it asks, the devnet answers a repeated request id with the same sector, and a worker that crashed between
the two resumes the sector it was given instead of orphaning it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from _devnet_helpers import ManualClock, devnet_config

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import ManagerError
from sealer_fsm.manager.devnet import DevnetManager
from tests.harness import until


def make_devnet(tmp_path: Path, **config) -> DevnetManager:
    return DevnetManager(devnet_config(**config), tmp_path, {"a": tmp_path / "store-a"}, now=ManualClock().now)


def test_a_repeated_request_id_gets_the_same_sector(tmp_path):
    devnet = make_devnet(tmp_path)
    first = asyncio.run(devnet.allocate_sector(None, None, request_id="r-1"))
    again = asyncio.run(devnet.allocate_sector(None, None, request_id="r-1"))
    other = asyncio.run(devnet.allocate_sector(None, None, request_id="r-2"))
    assert first == again and other.id != first.id
    devnet.close()
    reopened = make_devnet(tmp_path)
    assert asyncio.run(reopened.allocate_sector(None, None, request_id="r-1")) == first
    assert [row["number"] for row in reopened.db.sectors()] == [first.id.number, other.id.number]


def test_a_repeated_snapup_request_gets_the_same_upgrade(tmp_path):
    devnet = make_devnet(tmp_path)
    sector = asyncio.run(devnet.allocate_sector(None, None, request_id="cc"))
    devnet.db.update_sector(sector.id.number, status="finalized", deals="[]", persisted="a", comm_r="00" * 32)
    offered = asyncio.run(devnet.allocate_snapup_sector(None, None, request_id="up-1"))
    assert offered is not None and offered.sector == sector
    assert asyncio.run(devnet.allocate_snapup_sector(None, None, request_id="up-1")) == offered
    assert asyncio.run(devnet.allocate_snapup_sector(None, None, request_id="up-2")) is None


def machine(tmp_path: Path, *plans: str, devnet: str = "") -> Path:
    path = tmp_path / "machine.toml"
    threads = "".join(f'[[sealing_thread]]\nlocation = "t{i}"\nplan = "{plan}"\n' for i, plan in enumerate(plans))
    path.write_text(
        '[worker]\nname = "alloc"\ndrain_timeout = "1s"\n'
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "0s"\nrpc_polling_interval = "0s"\n'
        f"{threads}"
        '[[attached]]\nname = "store"\nlocation = "store"\n'
        f"[sector_manager.devnet]\nblock_time = \"1ms\"\n{devnet}"
    )
    return path


class LoseAllocationReplies:
    """Wraps the devnet: the first `count` allocations are applied but their reply is lost (the manager has the
    sector, the worker got an error), as a crash or a dropped connection would have it."""

    def __init__(self, inner, count: int) -> None:
        self._inner, self.left = inner, count
        self.request_ids: list[str] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def allocate_sector(self, allowed_miners, allowed_sizes, *, request_id):
        self.request_ids.append(request_id)
        sector = await self._inner.allocate_sector(allowed_miners, allowed_sizes, request_id=request_id)
        if self.left > 0:
            self.left -= 1
            raise ManagerError("devnet: reply lost (test)")
        return sector


def test_a_lost_allocation_reply_is_asked_again_with_the_same_request(tmp_path):
    config = load_machine_file(machine(tmp_path, "sealer"), home=tmp_path / "home")
    worker = build_worker(config)
    devnet = worker.services.manager
    lossy = LoseAllocationReplies(devnet, 2)
    object.__setattr__(worker.services, "manager", lossy)

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: worker.thread(0).sector is not None)
        worker.drain()
        await runner

    asyncio.run(scenario())
    assert len(set(lossy.request_ids)) == 1 and len(lossy.request_ids) == 3
    assert [row["number"] for row in devnet.db.sectors()] == [1]  # no sector was orphaned
    assert worker.thread(0).sector == "s-t01000-1"


def test_the_request_id_is_stored_before_the_manager_is_asked(tmp_path):
    """Killed right after the manager allocated: the restarted worker asks with the stored id, gets the sector."""
    path = machine(tmp_path, "sealer")
    config = load_machine_file(path, home=tmp_path / "home")
    worker = build_worker(config)
    seen = {}

    class CrashAfterAllocation(LoseAllocationReplies):
        async def allocate_sector(self, allowed_miners, allowed_sizes, *, request_id):
            task = worker.store.open_task(0)
            seen["stored"] = task.data.get("allocation_request")
            seen["asked"] = request_id
            await self._inner.allocate_sector(allowed_miners, allowed_sizes, request_id=request_id)
            await asyncio.Event().wait()  # the process dies here: nothing after the manager's answer runs

    object.__setattr__(worker.services, "manager", CrashAfterAllocation(worker.services.manager, 0))

    async def crash():
        runner = asyncio.create_task(worker.run())
        await until(lambda: "asked" in seen)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(crash())
    worker.services.manager.close()
    worker.close()
    assert seen["stored"] == seen["asked"]

    restarted = build_worker(load_machine_file(path, home=tmp_path / "home"))

    async def resume():
        runner = asyncio.create_task(restarted.run())
        await until(lambda: restarted.thread(0).sector is not None)
        restarted.drain()
        await runner

    asyncio.run(resume())
    assert restarted.thread(0).sector == "s-t01000-1"
    assert [row["number"] for row in restarted.services.manager.db.sectors()] == [1]

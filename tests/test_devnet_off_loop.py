"""The devnet's synchronous SQLite and payload generation run on the devnet's own thread, never on the worker's
event loop; a database that cannot be written is a manager error (Temporary for the step), not a crash."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from _devnet_helpers import ManualClock, devnet_config

from sealer_fsm.manager import ManagerError
from sealer_fsm.manager.devnet import DevnetManager, OffLoopDevnet


def make(tmp_path: Path) -> OffLoopDevnet:
    inner = DevnetManager(devnet_config(), tmp_path, {"a": tmp_path / "store-a"}, now=ManualClock().now)
    return OffLoopDevnet(inner)


def test_devnet_calls_run_on_the_devnet_thread_while_the_loop_stays_free(tmp_path, monkeypatch):
    devnet = make(tmp_path)
    loop_ran = threading.Event()
    threads = []
    real = devnet.inner.db.allocate

    def allocate_waiting_for_the_loop(*args):
        threads.append(threading.get_ident())
        assert loop_ran.wait(timeout=30), "the event loop was blocked by the devnet call"
        return real(*args)

    monkeypatch.setattr(devnet.inner.db, "allocate", allocate_waiting_for_the_loop)

    async def scenario():
        call = asyncio.ensure_future(devnet.allocate_sector(None, None, request_id="r"))
        await asyncio.sleep(0)
        loop_ran.set()  # only possible while the devnet call is in progress on another thread
        return await call

    sector = asyncio.run(scenario())
    assert sector.id.number == 1 and threads and threads[0] != threading.get_ident()
    assert devnet.sector_record(sector.id)["request_id"] == "r"  # inspection is forwarded too
    devnet.close()


def test_a_devnet_database_that_cannot_be_written_is_a_manager_error(tmp_path):
    devnet = make(tmp_path)

    def full(db):
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

    with devnet.inner.db.transaction() as db:
        full(db)

    async def allocate_many():
        for number in range(500):
            await devnet.allocate_sector(None, None, request_id=f"r{number}")

    with pytest.raises(ManagerError, match=r"devnet\.db.*full"):
        asyncio.run(allocate_many())
    devnet.close()

"""File errors in steps (issue 10 #17): every one names the path and the operation, is classed by cause (no space
and I/O errors temporary, missing inputs permanent), and leaves no partial `*.tmp` file behind, in the thread's
directories or in the stores.

A full disk is real here: the temporary name a copy writes through is made a link to /dev/full, whose writes fail
with ENOSPC in the kernel.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import ChainClock, FakeContext, ManualClock, devnet_config, devnet_machine
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager.devnet import DevnetManager
from sealer_fsm.runtime import Permanent, StepFailure, Temporary, WorkerListener
from sealer_fsm.steps import persistence, pieces, sealing
from sealer_fsm.steps._common import file_failure

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real ENOSPC")
SECTOR = "s-t01000-1"


def leftovers(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*.tmp"))


@given(
    number=st.sampled_from(sorted(errno.errorcode)),
    path=st.text(alphabet="abc/._-", min_size=1, max_size=20),
    operation=st.sampled_from(["copy a to b", "write the staged sector", "remove x"]),
)
def test_every_os_error_becomes_one_line_naming_operation_and_path_classed_by_cause(number, path, operation):
    failure = file_failure(OSError(number, os.strerror(number), path), operation)
    assert isinstance(failure, StepFailure)
    assert str(failure).count("\n") == 0 and operation in str(failure) and path in str(failure)
    transient = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.EINTR}
    if number in transient:
        assert isinstance(failure, Temporary)
    if number in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR):
        assert isinstance(failure, Permanent)


def sealed_sector(location: Path) -> None:
    data = location / "data"
    (data / "sealed").mkdir(parents=True)
    (data / "sealed" / SECTOR).write_bytes(b"r" * 4096)
    (data / "cache" / SECTOR).mkdir(parents=True)
    (data / "cache" / SECTOR / "p_aux").write_bytes(b"p" * 64)


def persist_context(tmp_path: Path) -> tuple[FakeContext, Path]:
    store = tmp_path / "store"
    devnet = DevnetManager(devnet_config(), tmp_path, {"a": store}, now=ManualClock().now)
    data = {"sector_id": SECTOR, "sector_size": 2048}
    ctx = FakeContext(data, {"manager": devnet, "stores": {"a": store}}, tmp_path / "thread")
    sealed_sector(ctx.location)
    return ctx, store


@needs_dev_full
def test_a_full_store_is_temporary_names_the_store_file_and_its_free_space_and_leaves_no_tmp(tmp_path):
    ctx, store = persist_context(tmp_path)
    (store / "sealed").mkdir(parents=True)
    (store / "sealed" / f"{SECTOR}.tmp").symlink_to("/dev/full")
    with pytest.raises(Temporary) as failed:
        asyncio.run(persistence.persist_sealed(ctx))
    message = str(failed.value)
    assert "No space left on device" in message and str(store / "sealed" / SECTOR) in message
    assert "free" in message and "\n" not in message
    assert leftovers(store, ctx.location) == []


def test_a_cache_that_cannot_be_copied_leaves_no_partial_copy_in_the_store(tmp_path):
    ctx, store = persist_context(tmp_path)
    os.mkfifo(ctx.location / "data" / "cache" / SECTOR / "t_aux")  # a cache file persist copies, and cannot
    with pytest.raises(StepFailure) as failed:
        asyncio.run(persistence.persist_sealed(ctx))
    assert str(store / "cache" / SECTOR) in str(failed.value) and "t_aux" in str(failed.value)
    assert leftovers(store, ctx.location) == []
    assert not (store / "cache" / SECTOR).exists()


def test_pc2_on_a_missing_staged_file_is_permanent_and_names_it(tmp_path):
    """It was `critical: step 'pc2' crashed: FileNotFoundError(2, ...)` with no path."""
    data = {"sector_id": SECTOR, "sector_size": 2048, "comm_d": "22" * 32, "pc1_out": {"replica_id": "11" * 32}}
    ctx = FakeContext(data, {}, tmp_path / "thread")
    cache = tmp_path / "thread" / "data" / "cache" / SECTOR
    cache.mkdir(parents=True)
    for layer in (1, 2):  # PC1's layers are there: only the staged sector is missing
        (cache / f"sc-02-data-layer-{layer}.dat").write_bytes(bytes(2048))
    with pytest.raises(Permanent) as failed:
        asyncio.run(sealing.pc2(ctx))
    assert str(tmp_path / "thread" / "data" / "unsealed" / SECTOR) in str(failed.value)
    assert "missing" in str(failed.value)
    assert leftovers(tmp_path) == []


@needs_dev_full
def test_staging_a_sector_on_a_full_disk_is_temporary_and_removes_the_partial_file(tmp_path):
    devnet = DevnetManager(devnet_config(seed=3), tmp_path, {}, now=ManualClock().now)
    deals: list[Any] = []
    while not deals:
        sector = asyncio.run(devnet.allocate_sector(None, None))
        deals = asyncio.run(devnet.acquire_deals(sector.id, None))
    data = {**sector.task_data(), "deals": [deal.to_json() for deal in deals]}
    ctx = FakeContext(data, {"manager": devnet}, tmp_path / "thread")
    unsealed = ctx.location / "data" / "unsealed"
    unsealed.mkdir(parents=True)
    (unsealed / f"{sector.id.name}.tmp").symlink_to("/dev/full")
    with pytest.raises(Temporary) as failed:
        asyncio.run(pieces.add_pieces(ctx))
    assert "No space left on device" in str(failed.value) and str(unsealed / sector.id.name) in str(failed.value)
    assert leftovers(ctx.location) == []


class FullStores:
    """Stores whose disks are full until `free()`: a copy into them writes part of its temporary file, then fails
    with ENOSPC, as the kernel's write does (a /dev/full link cannot stand in here: the failed copy removes it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stores: list[Path]) -> None:
        self.stores = stores
        self.full = True
        self.refused = 0
        real_copy = shutil.copyfile

        def copyfile(source: Any, destination: Any, **kwargs: Any) -> Any:
            if self.full and any(Path(destination).is_relative_to(store) for store in self.stores):
                self.refused += 1
                Path(destination).write_bytes(b"part of a replica")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_copy(source, destination, **kwargs)

        monkeypatch.setattr(shutil, "copyfile", copyfile)

    def free(self) -> None:
        self.full = False


def test_a_full_store_pauses_the_thread_with_the_path_and_resume_after_freeing_it_finishes(tmp_path, monkeypatch):
    """The operator's story: both stores are full; the sector retries, then the thread pauses saying where and
    how much space is left; once space is back, resume finishes the sector."""
    machine = devnet_machine(tmp_path, ["sealer"], sealing="max_retries = 2")
    config = load_machine_file(machine, tmp_path / "home")
    full = FullStores(monkeypatch, [config.home / "store-a", config.home / "store-b"])
    clock = ChainClock(0.01)
    worker = build_worker(config, clock=clock, manager_calls=clock)
    finished: list[str] = []

    class Finished(WorkerListener):
        def task_closed(self, thread: Any, task: Any) -> None:
            finished.append(task.state)
            worker.drain()

    worker.add_listener(Finished())

    async def story() -> tuple[str, list[Path]]:
        running = asyncio.ensure_future(worker.run())
        while not worker.threads()[0].paused:
            await asyncio.sleep(0.01)
        reason, partial = worker.threads()[0].last_error, leftovers(config.home)
        full.free()
        worker.resume(0)
        await asyncio.wait_for(running, 60)
        return reason, partial

    reason, partial = asyncio.run(asyncio.wait_for(story(), 120))
    assert reason.startswith("permanent: ") and "No space left on device" in reason and "free in" in reason
    assert "/store-" in reason and SECTOR in reason and "\n" not in reason
    assert full.refused == 3, "the first try and max_retries = 2 retries, then the pause"
    assert partial == [], "no partial copy stays in the stores"
    assert finished == ["Finished"]
    assert leftovers(config.home) == []


def test_persisting_never_goes_into_a_read_only_store_but_reading_from_one_does(tmp_path):
    from sealer_fsm.steps._common import access_store_path, store_path

    services = {"stores": {"w": tmp_path / "w"}, "readonly_stores": {"r": tmp_path / "r"}}
    ctx = FakeContext({}, services, tmp_path / "thread")
    assert store_path(ctx, "w") == tmp_path / "w"
    with pytest.raises(Permanent, match="'r' chosen by the sector manager to persist into is read-only"):
        store_path(ctx, "r")
    assert access_store_path(ctx, "r") == tmp_path / "r" and access_store_path(ctx, "w") == tmp_path / "w"
    with pytest.raises(Permanent, match=r"'x', which holds the sector, is not attached .*r \(read-only\)"):
        access_store_path(ctx, "x")

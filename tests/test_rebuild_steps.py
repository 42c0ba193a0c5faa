"""The rebuild plan's failure paths, step by step and through a real worker: a CommR the chain disagrees with
(sealed or upgraded) pauses the thread before anything is persisted, and an abort gives the rebuild up on the
chain's side without touching the finished sector."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import ChainClock, FakeContext

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import (
    AllocatedSector,
    ManagerError,
    Randomness,
    RebuildAllocation,
    SectorId,
    UpgradeInfo,
)
from sealer_fsm.proofs import sealed_cid
from sealer_fsm.runtime import IDLE, Outcome, Permanent, Worker, WorkerListener
from sealer_fsm.steps import allocation, rebuild, submission
from tests.harness import run_until
from tests.support.sealed_chain import BLOCK_TIME, SealedChain, fresh_home, machine_for, seal_chain

COMM_R = (1234).to_bytes(32, "little").hex()
OTHER = (4321).to_bytes(32, "little").hex()
DATA = {"sector_id": "s-t01000-4", "miner": 1000, "number": 4, "sector_size": 2048, "comm_r": COMM_R}


class Recorder:
    """A manager that answers one allocation and records SubmitPersistedEx."""

    def __init__(self, allocation: Any = None) -> None:
        self.allocation = allocation
        self.persisted: list[tuple[str, str, bool]] = []

    async def allocate_rebuild_sector(self, miners: Any, sizes: Any) -> Any:
        if isinstance(self.allocation, Exception):
            raise self.allocation
        return self.allocation

    async def submit_persisted(self, sector: SectorId, instance: str, is_upgrade: bool) -> bool:
        self.persisted.append((sector.name, instance, is_upgrade))
        return True


def context(tmp_path: Path, manager: Any = None, **data: Any) -> FakeContext:
    return FakeContext({**DATA, **data}, {"manager": manager or Recorder()}, tmp_path)


def test_check_sealed_passes_a_comm_r_equal_to_the_chains(tmp_path: Path) -> None:
    # A simulated PC2 has no trees to prove: only the chain's CommR is checked (C1 is in the worker test below).
    done = rebuild.check_sealed(context(tmp_path, chain_comm_r=COMM_R, comm_r_simulated=True))
    assert asyncio.run(done) == "CheckSealed"


def test_check_sealed_fails_permanently_with_both_values(tmp_path: Path) -> None:
    with pytest.raises(Permanent) as failure:
        asyncio.run(rebuild.check_sealed(context(tmp_path, chain_comm_r=OTHER)))
    message = str(failure.value)
    assert sealed_cid(bytes.fromhex(COMM_R)) in message and sealed_cid(bytes.fromhex(OTHER)) in message
    assert message.startswith("permanent: the rebuilt CommR of s-t01000-4 is ") and "was not persisted" in message


def test_without_the_chains_comm_r_check_sealed_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(rebuild.check_sealed(context(tmp_path, comm_r_simulated=True))) == "CheckSealed"
    assert "the manager gave no CommR to check the rebuilt one against" in caplog.text


def test_a_sector_that_was_not_upgraded_skips_the_snap_branch(tmp_path: Path) -> None:
    assert asyncio.run(rebuild.prepare_for_snapup(context(tmp_path))) == "SkipSnap"


@pytest.mark.parametrize(("upgrade", "is_upgrade"), [(None, False), ({"comm_r": OTHER, "deals": []}, True)])
def test_submit_persisted_says_whether_the_files_are_an_upgrades(
    tmp_path: Path, upgrade: Any, is_upgrade: bool
) -> None:
    manager = Recorder()
    data = {"persist_instance": "b"} | ({"upgrade": upgrade} if upgrade else {})
    submitted = asyncio.run(submission.submit_persisted(context(tmp_path, manager, **data)))
    assert submitted == Outcome("SubmitPersistance", {"persist_submitted": "b"})
    assert manager.persisted == [("s-t01000-4", "b", is_upgrade)]


@pytest.mark.parametrize("answer", [None, ManagerError("unreachable")])
def test_no_rebuild_or_a_manager_error_is_idle(tmp_path: Path, answer: Any) -> None:
    assert asyncio.run(allocation.allocate_rebuild_sector(context(tmp_path, Recorder(answer)))) is IDLE


def test_an_allocated_rebuild_stores_the_original_ticket_and_the_chains_values(tmp_path: Path) -> None:
    sector = AllocatedSector(SectorId(1000, 4), 2048, 5)
    given = RebuildAllocation(
        sector, Randomness(b"\1" * 32, 9), [], bytes.fromhex(COMM_R), UpgradeInfo(bytes.fromhex(OTHER), [])
    )
    outcome = asyncio.run(allocation.allocate_rebuild_sector(context(tmp_path, Recorder(given), sector_id=None)))
    assert isinstance(outcome, Outcome) and outcome.event == "AllocatedRebuildSector"
    assert outcome.data["ticket"] == {"value": "01" * 32, "epoch": 9}
    assert outcome.data["chain_comm_r"] == COMM_R
    assert outcome.data["upgrade"] == {"comm_r": OTHER, "deals": []}
    assert (tmp_path / "data" / "unsealed").is_dir() and (tmp_path / "data" / "cache").is_dir()


# -- through a worker, on a chain sealed for real -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> SealedChain:
    return seal_chain(tmp_path_factory.mktemp("sealed-chain"))


def rebuild_worker(tmp_path: Path, chain: SealedChain) -> Worker:
    home = fresh_home(chain, tmp_path / "home")
    clock = ChainClock(BLOCK_TIME)
    return build_worker(load_machine_file(machine_for(tmp_path / "m", ["rebuild"]), home), clock=clock)


def store_files(home: Path, sector: str) -> list[Path]:
    return [path for store in ("store-a", "store-b") for path in (home / store).rglob(f"*{sector}*")]


def lose(worker: Worker, sector: str, **chain_changes: Any) -> None:
    devnet = worker.services.manager
    if chain_changes:
        devnet.db.update_sector(SectorId.parse(sector).number, **chain_changes)
    devnet.request_rebuild(SectorId.parse(sector))


def test_a_comm_r_the_chain_disagrees_with_pauses_the_rebuild_until_it_is_aborted(
    tmp_path: Path, chain: SealedChain
) -> None:
    worker = rebuild_worker(tmp_path, chain)
    devnet = worker.services.manager
    on_chain = devnet.sector_record(SectorId.parse(chain.dealt))["comm_r"]
    lose(worker, chain.dealt, comm_r=OTHER)  # the chain says otherwise (say the deals' data changed)

    async def story() -> None:
        runner = asyncio.ensure_future(worker.run())
        while not worker.thread(0).paused:
            await asyncio.sleep(0.01)
        info = worker.thread(0)
        assert info.state == "PC2Done"
        assert info.last_error.startswith(f"permanent: the rebuilt CommR of {chain.dealt} is ")
        assert sealed_cid(bytes.fromhex(on_chain)) in info.last_error
        assert sealed_cid(bytes.fromhex(OTHER)) in info.last_error
        assert store_files(worker.config.home, chain.dealt) == [], "nothing was persisted"
        worker.resume(0, "Abort", reason="the deals' data is wrong")
        while worker.store.task(info.task_id).state != "Abort":
            await asyncio.sleep(0.01)
        worker.drain()
        await runner

    try:
        asyncio.run(asyncio.wait_for(story(), 60))
        view = next(view for view in devnet.sectors_view() if view["id"] == chain.dealt)
    finally:
        worker.close()
    assert view["state"] == "finalized", "the sector stays finished"
    assert view["rebuild"]["status"] == "aborted"
    assert "the deals' data is wrong" in view["rebuild"]["detail"]
    assert [p for p in (tmp_path / "home" / "t0" / "data").rglob("*") if p.is_file()] == []


def test_an_upgrade_the_chain_disagrees_with_pauses_before_persisting(tmp_path: Path, chain: SealedChain) -> None:
    worker = rebuild_worker(tmp_path, chain)
    lose(worker, chain.upgraded, snap_comm_r=OTHER)
    try:
        asyncio.run(run_until(worker, lambda: worker.thread(0).paused, timeout=60))
    finally:
        worker.close()
    info = worker.thread(0)
    assert info.state == "SnapTreeDBuilt"
    assert info.last_error.startswith(f"permanent: the rebuilt CommR of the upgrade of {chain.upgraded} is ")
    assert sealed_cid(bytes.fromhex(OTHER)) in info.last_error
    assert store_files(worker.config.home, chain.upgraded) == []


def test_a_replica_whose_proofs_do_not_verify_pauses_at_check_sealed(tmp_path: Path, chain: SealedChain) -> None:
    """The CommR agrees with the chain, but a layer was damaged after PC2: C1 with the ticket as the seed (as the
    reference checks a rebuilt replica) does not verify, and nothing is persisted."""
    worker = rebuild_worker(tmp_path, chain)
    lose(worker, chain.dealt)

    class DamageALayer(WorkerListener):
        def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
            if destination == "PC2Done":
                (layer,) = (tmp_path / "home" / "t0").rglob("sc-02-data-layer-1.dat")
                # Every label changed (their lowest bit flipped), so whichever nodes are challenged, their columns
                # are not the ones TreeC committed to.
                layer.write_bytes(bytes(byte ^ 1 for byte in layer.read_bytes()))

    worker.add_listener(DamageALayer())
    try:
        asyncio.run(run_until(worker, lambda: worker.thread(0).paused, timeout=60))
    finally:
        worker.close()
    info = worker.thread(0)
    assert info.state == "PC2Done"
    assert info.last_error.startswith("permanent: CheckSealed: "), info.last_error
    assert store_files(worker.config.home, chain.dealt) == []

"""The devnet's rebuild service: an operator marks a finished sector lost, a rebuild thread is given it, and its
SubmitPersistedEx (or ReportAborted) ends the rebuild."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _devnet_helpers import ManualClock, devnet_config

from sealer_fsm.manager import SectorId, StateReport
from sealer_fsm.manager.devnet import DevnetManager
from tests.support.devnet_sectors import COMM_R, NEW_COMM_R, TICKET, TICKET_EPOCH, finished_sector, write_replica


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def devnet(tmp_path: Path) -> DevnetManager:
    stores = {"a": tmp_path / "store-a", "b": tmp_path / "store-b"}
    manager = DevnetManager(devnet_config(seed=3), tmp_path, stores, now=ManualClock().now)
    yield manager
    manager.close()


def test_a_lost_sector_loses_its_files_and_is_given_to_one_rebuild_thread(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    store = devnet.all_stores["a"]
    removed = devnet.request_rebuild(sector)
    assert sorted(removed) == sorted([store / "sealed" / sector.name, store / "cache" / sector.name])
    assert not (store / "sealed" / sector.name).exists()

    allocation = run(devnet.allocate_rebuild_sector(None, None))
    assert allocation.sector.id == sector
    assert allocation.sector.proof_type == 5
    assert (allocation.ticket.value, allocation.ticket.epoch) == (TICKET, TICKET_EPOCH)
    assert allocation.deals == deals
    assert allocation.comm_r == COMM_R
    assert allocation.upgrade is None
    assert run(devnet.allocate_rebuild_sector(None, None)) is None, "one request, one rebuild"
    data = allocation.task_data()
    assert data["sector_id"] == sector.name and data["chain_comm_r"] == COMM_R.hex() and "upgrade" not in data


def test_an_upgraded_sector_is_rebuilt_with_its_upgrade(devnet: DevnetManager) -> None:
    sector, snap_deals = finished_sector(devnet, deals=False, upgraded=True, update_store="b")
    removed = devnet.request_rebuild(sector)
    assert devnet.all_stores["b"] / "update" / sector.name in removed
    allocation = run(devnet.allocate_rebuild_sector(None, None))
    assert allocation.deals == [], "the sector was sealed as committed capacity"
    assert allocation.upgrade.comm_r == NEW_COMM_R
    assert allocation.upgrade.deals == snap_deals
    assert allocation.task_data()["upgrade"]["comm_r"] == NEW_COMM_R.hex()


def test_a_request_id_is_answered_with_the_same_rebuild(devnet: DevnetManager) -> None:
    first, _ = finished_sector(devnet, deals=True)
    second, _ = finished_sector(devnet, deals=False)
    devnet.request_rebuild(first)
    devnet.request_rebuild(second)
    given = run(devnet.allocate_rebuild_sector(None, None, request_id="r1"))
    again = run(devnet.allocate_rebuild_sector(None, None, request_id="r1"))
    other = run(devnet.allocate_rebuild_sector(None, None, request_id="r2"))
    assert given == again and given.sector.id == first
    assert other.sector.id == second


def test_submit_persisted_ends_the_rebuild_and_records_the_store(devnet: DevnetManager) -> None:
    sector, _ = finished_sector(devnet, deals=True)
    devnet.request_rebuild(sector)
    run(devnet.allocate_rebuild_sector(None, None))
    assert run(devnet.submit_persisted(sector, "b", False)) is False, "no files in store b yet"
    write_replica(devnet.all_stores["b"], sector)
    assert run(devnet.submit_persisted(sector, "b", False)) is True
    view = devnet.sectors_view()[0]
    assert view["rebuild"]["status"] == "finished" and view["rebuild"]["instance"] == "b"
    assert view["persisted"] == "b"
    # Lost again: a new request.
    assert devnet.request_rebuild(sector) == [
        devnet.all_stores["b"] / "sealed" / sector.name,
        devnet.all_stores["b"] / "cache" / sector.name,
    ]
    assert devnet.sectors_view()[0]["rebuild"]["requests"] == 2


def test_an_upgraded_sector_needs_its_update_files_persisted(devnet: DevnetManager) -> None:
    sector, _ = finished_sector(devnet, deals=False, upgraded=True)
    devnet.request_rebuild(sector)
    run(devnet.allocate_rebuild_sector(None, None))
    write_replica(devnet.all_stores["a"], sector)  # sealed files only: not what an upgraded sector needs
    assert run(devnet.submit_persisted(sector, "a", False)) is False
    write_replica(devnet.all_stores["a"], sector, ("update", "update-cache"))
    assert run(devnet.submit_persisted(sector, "a", True)) is True
    assert devnet.sectors_view()[0]["rebuild"]["status"] == "finished"


def test_an_aborted_rebuild_leaves_the_sector_finished_and_may_be_asked_again(devnet: DevnetManager) -> None:
    sector, _ = finished_sector(devnet, deals=True)
    devnet.request_rebuild(sector)
    run(devnet.allocate_rebuild_sector(None, None))
    run(devnet.report_aborted(sector, "the rebuilt CommR differs"))
    record = devnet.sector_record(sector)
    assert record["status"] == "finalized" and record["abort_reason"] is None
    view = devnet.sectors_view()[0]
    assert view["rebuild"] == {
        "status": "aborted",
        "instance": None,
        "detail": "the rebuilt CommR differs",
        "requests": 1,
    }
    assert devnet.request_rebuild(sector) == [], "the files are gone already"
    assert devnet.sectors_view()[0]["rebuild"]["status"] == "queued"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("unknown", "the chain has no sector s-t01000-99"),
        ("sealing", "is allocated, not finished: only a finished sector can be rebuilt"),
        ("queued", "a rebuild of s-t01000-1 is already queued"),
        ("upgrading", "is being upgraded; rebuild it once the upgrade is over"),
    ],
)
def test_a_sector_that_cannot_be_rebuilt_is_refused_and_nothing_changes(
    devnet: DevnetManager, setup: str, message: str
) -> None:
    if setup == "unknown":
        sector = SectorId(1000, 99)
    elif setup == "sealing":
        sector = run(devnet.allocate_sector(None, None)).id
    else:
        sector, _ = finished_sector(devnet, deals=False)
        if setup == "queued":
            devnet.request_rebuild(sector)
        else:
            devnet.db.update_sector(sector.number, snapup="allocated")
    files = sorted(str(path) for path in Path(devnet.all_stores["a"]).rglob("*"))
    requests = [view["rebuild"] for view in devnet.sectors_view()]
    with pytest.raises(ValueError, match=message):
        devnet.request_rebuild(sector)
    assert sorted(str(path) for path in Path(devnet.all_stores["a"]).rglob("*")) == files
    assert [view["rebuild"] for view in devnet.sectors_view()] == requests


def test_a_lost_sector_is_offered_to_no_upgrade(devnet: DevnetManager) -> None:
    sector, _ = finished_sector(devnet, deals=False)
    devnet.request_rebuild(sector)
    assert run(devnet.allocate_snapup_sector(None, None)) is None
    run(devnet.allocate_rebuild_sector(None, None))
    write_replica(devnet.all_stores["a"], sector)
    run(devnet.submit_persisted(sector, "a", False))
    assert run(devnet.allocate_snapup_sector(None, None)).sector.id == sector


def test_rebuild_allocation_respects_allowed_miners(devnet: DevnetManager) -> None:
    sector, _ = finished_sector(devnet, deals=False)
    devnet.request_rebuild(sector)
    assert run(devnet.allocate_rebuild_sector([1234], None)) is None
    assert run(devnet.allocate_rebuild_sector([1000], [2048])).sector.id == sector


def test_a_sector_being_rebuilt_is_live_work_in_the_reports_answer(devnet: DevnetManager) -> None:
    """A finished sector's reports are answered `finalized` (the worker then drops it); not while a rebuild or
    an unseal of it runs, or the worker would abort that."""
    sector, deals = finished_sector(devnet, deals=True)
    report = StateReport("worker", "/t0", "Empty", "Allocated", "AllocatedRebuildSector")
    assert run(devnet.report_state(sector, report)).finalized
    devnet.request_rebuild(sector)
    run(devnet.allocate_rebuild_sector(None, None))
    assert not run(devnet.report_state(sector, report)).finalized
    write_replica(devnet.all_stores["a"], sector)
    run(devnet.submit_persisted(sector, "a", False))
    assert run(devnet.report_state(sector, report)).finalized
    devnet.request_unseal(sector, deals[0].piece_cid, "file:///tmp/x")
    run(devnet.allocate_unseal_sector(None, None))
    assert not run(devnet.report_state(sector, report)).finalized
    run(devnet.achieve_unseal_sector(sector, deals[0].piece_cid, ""))
    assert run(devnet.report_state(sector, report)).finalized

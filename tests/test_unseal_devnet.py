"""The devnet's unseal service: an operator asks for a deal's piece to a destination, an unseal thread is given
the piece's place in its sector, asks where to upload it, and says how it went."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _devnet_helpers import ManualClock, devnet_config
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.manager import ManagerError, SectorId
from sealer_fsm.manager.devnet import DevnetManager
from sealer_fsm.manager.devnet._requests import check_dest
from sealer_fsm.manager.devnet._verify import expected_comm_d
from sealer_fsm.proofs import piece_layout, piece_offsets, unpadded_size
from tests.support.devnet_sectors import COMM_R, TICKET, finished_sector, write_replica


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def devnet(tmp_path: Path) -> DevnetManager:
    stores = {"a": tmp_path / "store-a", "b": tmp_path / "store-b"}
    manager = DevnetManager(devnet_config(seed=3), tmp_path, stores, now=ManualClock().now)
    yield manager
    manager.close()


def test_an_unseal_is_allocated_with_the_pieces_place_and_the_sealing_values(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    piece = deals[-1]
    devnet.request_unseal(sector, piece.piece_cid, "file:///tmp/out.car")
    allocation = run(devnet.allocate_unseal_sector(None, None))
    slots = piece_layout([deal.piece_size for deal in deals], 2048)
    padded = next(o for o, slot in zip(piece_offsets(slots), slots, strict=True) if slot.deal == len(deals) - 1)
    assert allocation.sector.id == sector and allocation.piece_cid == piece.piece_cid
    assert allocation.offset == padded // 128 * 127
    assert allocation.size == unpadded_size(piece.piece_size)
    assert allocation.ticket.value == TICKET
    assert allocation.comm_d == expected_comm_d(deals, 2048)
    assert allocation.access_instance == "a"
    assert allocation.upgrade is None
    data = allocation.task_data()
    assert data["unseal"] == {"piece_cid": piece.piece_cid, "offset": allocation.offset, "size": allocation.size}
    assert run(devnet.allocate_unseal_sector(None, None)) is None


def test_a_piece_of_an_upgrade_comes_with_what_decodes_the_update(devnet: DevnetManager) -> None:
    sector, snap_deals = finished_sector(devnet, deals=False, upgraded=True, update_store="b")
    devnet.request_unseal(sector, snap_deals[0].piece_cid, "store://a/pieces/one")
    allocation = run(devnet.allocate_unseal_sector(None, None))
    assert allocation.access_instance == "b", "the store holding the update"
    assert allocation.offset == 0
    assert allocation.upgrade.comm_r_old == COMM_R
    assert allocation.upgrade.comm_d_new == expected_comm_d(snap_deals, 2048)
    assert allocation.comm_d == expected_comm_d([], 2048), "the key comes from the sealing's CommD"


def test_dests_are_handed_out_and_the_outcome_recorded(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    cid = deals[0].piece_cid
    devnet.request_unseal(sector, cid, "file:///tmp/one")
    devnet.request_unseal(sector, cid, "http://example.test/upload")
    devnet.request_unseal(sector, cid, "file:///tmp/one")  # the same destination again: kept once
    run(devnet.allocate_unseal_sector(None, None))
    with pytest.raises(ValueError, match="is being unsealed"):
        devnet.request_unseal(sector, cid, "file:///tmp/two")
    assert run(devnet.acquire_unseal_dest(sector, cid)) == ["file:///tmp/one", "http://example.test/upload"]
    assert devnet.sectors_view()[0]["unseals"][0]["status"] == "uploading"
    run(devnet.achieve_unseal_sector(sector, cid, ""))
    run(devnet.achieve_unseal_sector(sector, cid, "late failure"))  # over already: stays finished
    assert devnet.sectors_view()[0]["unseals"] == [
        {
            "piece_cid": cid,
            "dests": ["file:///tmp/one", "http://example.test/upload"],
            "status": "finished",
            "error": None,
        }
    ]
    devnet.request_unseal(sector, cid, "file:///tmp/two")  # a new request once the last one is over
    assert [u["status"] for u in devnet.sectors_view()[0]["unseals"]] == ["finished", "queued"]


def test_a_failed_unseal_keeps_its_reason(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    devnet.request_unseal(sector, deals[0].piece_cid, "file:///tmp/x")
    run(devnet.allocate_unseal_sector(None, None))
    run(devnet.achieve_unseal_sector(sector, deals[0].piece_cid, "CommP differs"))
    assert devnet.sectors_view()[0]["unseals"][0] | {"dests": None} == {
        "piece_cid": deals[0].piece_cid,
        "dests": None,
        "status": "failed",
        "error": "CommP differs",
    }


def test_an_unknown_unseal_is_a_manager_error(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    with pytest.raises(ManagerError, match="no unseal of"):
        run(devnet.acquire_unseal_dest(sector, deals[0].piece_cid))
    with pytest.raises(ManagerError, match="no unseal of"):
        run(devnet.achieve_unseal_sector(sector, deals[0].piece_cid, ""))


def test_a_sector_waiting_for_its_rebuild_is_unsealed_after_it(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    devnet.request_rebuild(sector)
    devnet.request_unseal(sector, deals[0].piece_cid, "file:///tmp/x")
    assert run(devnet.allocate_unseal_sector(None, None)) is None
    run(devnet.allocate_rebuild_sector(None, None))
    write_replica(devnet.all_stores["b"], sector)
    assert run(devnet.submit_persisted(sector, "b", False))
    allocation = run(devnet.allocate_unseal_sector(None, None))
    assert allocation.access_instance == "b"


def test_a_piece_whose_replica_is_in_no_store_fails_at_allocation(devnet: DevnetManager) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    other, other_deals = finished_sector(devnet, deals=True)
    devnet.request_unseal(sector, deals[0].piece_cid, "file:///tmp/x")
    devnet.request_unseal(other, other_deals[0].piece_cid, "file:///tmp/y")
    (devnet.all_stores["a"] / "sealed" / sector.name).unlink()  # lost, and no rebuild asked for
    allocation = run(devnet.allocate_unseal_sector(None, None))
    assert allocation.sector.id == other
    failed = devnet.sectors_view()[0]["unseals"][0]
    assert failed["status"] == "failed" and "in no store; rebuild the sector first" in failed["error"]


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("ftp://host/x", "unsupported scheme 'ftp'"),
        ("market://store/cid", "unsupported scheme 'market'"),
        ("x", "unsupported scheme ''"),
        ("file://host/x", "absolute path on this host"),
        ("file:relative", "absolute path on this host"),
        ("store://nowhere/x", "'nowhere' is not an attached store \\(stores: a, b\\)"),
        ("store://a", "give the path in the store"),
        ("http:///x", "needs a host"),
    ],
)
def test_a_destination_the_step_cannot_serve_is_refused(devnet: DevnetManager, dest: str, message: str) -> None:
    sector, deals = finished_sector(devnet, deals=True)
    with pytest.raises(ValueError, match=message):
        devnet.request_unseal(sector, deals[0].piece_cid, dest)
    assert devnet.sectors_view()[0]["unseals"] == []


def test_a_piece_or_sector_it_cannot_unseal_is_refused(devnet: DevnetManager) -> None:
    _, deals = finished_sector(devnet, deals=True)
    cc, _ = finished_sector(devnet, deals=False)
    with pytest.raises(ValueError, match="is not a deal piece of s-t01000-2 \\(its deal pieces: none"):
        devnet.request_unseal(cc, deals[0].piece_cid, "file:///tmp/x")
    with pytest.raises(ValueError, match="the chain has no sector s-t01000-9"):
        devnet.request_unseal(SectorId(1000, 9), deals[0].piece_cid, "file:///tmp/x")
    sealing = run(devnet.allocate_sector(None, None)).id
    with pytest.raises(ValueError, match="is allocated, not finished"):
        devnet.request_unseal(sealing, deals[0].piece_cid, "file:///tmp/x")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_check_dest_accepts_or_refuses_in_one_sentence(text: str) -> None:
    try:
        check_dest(text, {"a": Path("/a")})
    except ValueError as error:
        assert "\n" not in str(error) and str(error).startswith("destination ")

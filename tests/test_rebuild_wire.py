"""Rebuild and unseal on the Venus wire: SectorRebuildInfo and SectorUnsealInfo field by field (damocles-manager
core/types.go), both ways, and the four methods between the Venus client and `devnet serve` over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm.manager import (
    AllocatedSector,
    Deal,
    ManagerError,
    Randomness,
    RebuildAllocation,
    SectorId,
    UnsealAllocation,
    UpgradeInfo,
)
from sealer_fsm.manager.venus import _wire_requests as wire
from sealer_fsm.manager.venus._values import WireError
from sealer_fsm.proofs import SnapUpdate, sealed_cid
from tests.support.devnet_sectors import finished_sector, write_replica
from tests.test_venus_client import with_client

PIECE = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
SECTOR = AllocatedSector(SectorId(1000, 7), 2048, 5)
TICKET = Randomness(bytes(range(32)), 42)
COMM_R, NEW_COMM_R = bytes(range(100, 132)), bytes(range(1, 33))
DEAL = Deal(3, PIECE, 512, 400)


def test_a_rebuild_info_is_the_references_with_the_upgrade_in_its_pieces() -> None:
    upgraded = RebuildAllocation(SECTOR, TICKET, [], COMM_R, UpgradeInfo(NEW_COMM_R, [DEAL]))
    value = wire.rebuild_allocation_to_wire(upgraded)
    assert value["Sector"] == {"ID": {"Miner": 1000, "Number": 7}, "ProofType": 5}
    assert value["Ticket"] == {"Ticket": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "Epoch": 42}
    assert value["IsSnapUp"] is True and value["Pieces"] is None
    assert value["PiecesV2"][0]["Piece"] == {"Size": 512, "PieceCID": {"/": PIECE}}
    assert value["UpgradePublic"]["CommR"] == list(NEW_COMM_R)
    assert value["UpgradePublic"]["SealedCID"] == {"/": sealed_cid(NEW_COMM_R)}
    assert value["SealerFsmCommR"] == list(COMM_R)
    assert wire.rebuild_allocation_from_wire(value) == upgraded
    sealed = RebuildAllocation(SECTOR, TICKET, [DEAL], COMM_R, None)
    value = wire.rebuild_allocation_to_wire(sealed)
    assert value["IsSnapUp"] is False and value["UpgradePublic"] is None
    assert wire.rebuild_allocation_from_wire(value) == sealed
    assert wire.rebuild_allocation_from_wire(None) is None


def test_a_damocles_manager_rebuild_info_decodes_without_our_comm_r() -> None:
    """As damocles-manager sends it: v1 `Pieces` (LegacyDealInfo), no PiecesV2, no CommR of ours."""
    value = {
        "Sector": {"ID": {"Miner": 1000, "Number": 7}, "ProofType": 5},
        "Ticket": {"Ticket": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "Epoch": 42},
        "Pieces": [{"ID": 3, "PayloadSize": 400, "Piece": {"Size": 512, "Offset": 0, "Cid": {"/": PIECE}}}],
        "PiecesV2": None,
        "IsSnapUp": False,
        "UpgradePublic": None,
    }
    assert wire.rebuild_allocation_from_wire(value) == RebuildAllocation(SECTOR, TICKET, [DEAL], None, None)
    value["IsSnapUp"] = True
    with pytest.raises(WireError, match=r"SectorRebuildInfo\.UpgradePublic: an upgraded sector needs"):
        wire.rebuild_allocation_from_wire(value)


def test_an_unseal_info_is_the_references_with_our_upgrade_values() -> None:
    allocation = UnsealAllocation(SECTOR, PIECE, 508, 508, TICKET, COMM_R, "store-a")
    value = wire.unseal_allocation_to_wire(allocation)
    assert value == {
        "Sector": {"ID": {"Miner": 1000, "Number": 7}, "ProofType": 5},
        "PieceCid": {"/": PIECE},
        "Offset": 508,
        "Size": 508,
        "PrivateInfo": {"AccessInstance": "store-a"},
        "Ticket": {"Ticket": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "Epoch": 42},
        "CommD": list(COMM_R),
    }
    assert wire.unseal_allocation_from_wire({**value, "Dest": ["file:///x"], "State": 1, "ErrorInfo": ""}) == (
        allocation
    )
    upgraded = UnsealAllocation(SECTOR, PIECE, 0, 508, TICKET, COMM_R, "b", SnapUpdate(NEW_COMM_R, COMM_R))
    value = wire.unseal_allocation_to_wire(upgraded)
    assert value["SealerFsmUpgrade"] == {"CommDNew": list(NEW_COMM_R), "CommROld": list(COMM_R)}
    assert wire.unseal_allocation_from_wire(value) == upgraded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Offset": -1}, r"SectorUnsealInfo\.Offset: expected an unsigned integer"),
        ({"PieceCid": PIECE}, r"SectorUnsealInfo\.PieceCid: expected a CID"),
        ({"CommD": [1, 2]}, r"SectorUnsealInfo\.CommD: expected an array of 32 integers"),
        ({"PrivateInfo": {}}, r"SectorUnsealInfo\.PrivateInfo\.AccessInstance: missing"),
    ],
)
def test_a_malformed_unseal_info_is_refused_naming_the_field(change: dict[str, Any], message: str) -> None:
    value = wire.unseal_allocation_to_wire(UnsealAllocation(SECTOR, PIECE, 0, 508, TICKET, COMM_R, "a"))
    with pytest.raises(WireError, match=message):
        wire.unseal_allocation_from_wire({**value, **change})


def test_dests_are_a_list_of_urls_or_null() -> None:
    assert wire.dests_from_wire(None) == []
    assert wire.dests_from_wire(["file:///x", "http://h/y"]) == ["file:///x", "http://h/y"]
    with pytest.raises(WireError, match=r"\[Dest\]\[1\]: expected a string"):
        wire.dests_from_wire(["file:///x", 3])


commitments = st.binary(min_size=32, max_size=32)
deals = st.lists(st.builds(Deal, st.integers(1, 2**63), st.just(PIECE), st.integers(128, 2**30), st.integers(0, 2**30)))


@given(
    deals=deals,
    comm_r=st.one_of(st.none(), commitments),
    upgrade=st.one_of(st.none(), st.builds(UpgradeInfo, commitments, deals)),
)
def test_rebuild_infos_round_trip(deals: list[Deal], comm_r: bytes | None, upgrade: UpgradeInfo | None) -> None:
    allocation = RebuildAllocation(SECTOR, TICKET, [] if upgrade else deals, comm_r, upgrade)
    assert wire.rebuild_allocation_from_wire(wire.rebuild_allocation_to_wire(allocation)) == allocation


@given(
    offset=st.integers(0, 2**63),
    size=st.integers(0, 2**63),
    upgrade=st.one_of(st.none(), st.builds(SnapUpdate, commitments, commitments)),
)
def test_unseal_infos_round_trip(offset: int, size: int, upgrade: SnapUpdate | None) -> None:
    allocation = UnsealAllocation(SECTOR, PIECE, offset, size, TICKET, COMM_R, "store", upgrade)
    assert wire.unseal_allocation_from_wire(wire.unseal_allocation_to_wire(allocation)) == allocation


def test_the_four_methods_between_the_client_and_devnet_serve(tmp_path: Path) -> None:
    """A rebuild and an unseal served over HTTP, as a worker joining `devnet serve` sees them."""

    async def body(client: Any, server: Any) -> None:
        devnet = server.service.devnet
        sector, sector_deals = await asyncio.to_thread(finished_sector, devnet, deals=True)
        devnet.request_rebuild(sector)
        rebuild = await client.allocate_rebuild_sector(None, [2048])
        assert rebuild.sector.id == sector and rebuild.deals == sector_deals
        assert rebuild.comm_r == bytes.fromhex(devnet.sector_record(sector)["comm_r"])
        assert await client.allocate_rebuild_sector(None, None) is None
        write_replica(devnet.all_stores["a"], sector)
        assert await client.submit_persisted(sector, "a", False) is True

        devnet.request_unseal(sector, sector_deals[0].piece_cid, "file:///tmp/one")
        unseal = await client.allocate_unseal_sector([1000], None)
        assert unseal == devnet._unseal_allocation(devnet.db.sector(sector.number), sector_deals[0].piece_cid)
        assert await client.acquire_unseal_dest(sector, unseal.piece_cid) == ["file:///tmp/one"]
        await client.achieve_unseal_sector(sector, unseal.piece_cid, "")
        view = next(view for view in devnet.sectors_view() if view["id"] == sector.name)
        assert view["rebuild"]["status"] == "finished" and view["unseals"][0]["status"] == "finished"
        with pytest.raises(ManagerError, match=r"no unseal of .* was allocated"):
            await client.acquire_unseal_dest(SectorId(1000, 99), unseal.piece_cid)

    with_client(tmp_path, body, retry_for=0.0)

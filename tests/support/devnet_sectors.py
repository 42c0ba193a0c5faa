"""Finished sectors written straight into a devnet's chain, with their files in its stores: for the tests of the
rebuild and unseal requests, which start where a sealer (and snapup) thread ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sealer_fsm.manager import Deal, SectorId
from sealer_fsm.manager.devnet import DevnetManager
from sealer_fsm.manager.devnet._db import dumps
from sealer_fsm.manager.devnet._verify import expected_comm_d

TICKET = bytes(range(32))
TICKET_EPOCH = 7
COMM_R = (1234).to_bytes(32, "little")
NEW_COMM_R = (5678).to_bytes(32, "little")


def write_replica(store: Path, sector: SectorId, kinds: tuple[str, str] = ("sealed", "cache")) -> None:
    replica, cache = kinds
    (store / replica).mkdir(parents=True, exist_ok=True)
    (store / replica / sector.name).write_bytes(b"\1" * 2048)
    (store / cache / sector.name).mkdir(parents=True, exist_ok=True)
    (store / cache / sector.name / "p_aux").write_bytes(bytes(64))


def finished_sector(
    devnet: DevnetManager, *, deals: bool, upgraded: bool = False, store: str = "a", update_store: str = "a"
) -> tuple[SectorId, list[Deal]]:
    """A sector the chain has as finished (finalized), sealed with deals or as committed capacity and, with
    `upgraded`, upgraded with Snap Deals; its files are in `store` (the update's in `update_store`). Returns the
    sector and its deals (the upgrade's for an upgraded one)."""
    sector = asyncio.run(devnet.allocate_sector(None, None)).id
    sealed = devnet._make_deals(sector.number, ("deals", sector.number), None) if deals else []
    devnet.db.update_sector(
        sector.number,
        status="finalized",
        deals=dumps([deal.deal_id for deal in sealed]),
        ticket=TICKET.hex(),
        ticket_epoch=TICKET_EPOCH,
        comm_d=expected_comm_d(sealed, 2048).hex(),
        comm_r=COMM_R.hex(),
        persisted=store,
    )
    write_replica(devnet.all_stores[store], sector)
    if not upgraded:
        return sector, sealed
    snap = devnet._make_deals(sector.number, ("snap deals", sector.number), None)
    devnet.db.update_sector(
        sector.number,
        snapup="upgraded",
        snap_deals=dumps([deal.deal_id for deal in snap]),
        snap_comm_r=NEW_COMM_R.hex(),
    )
    write_replica(devnet.all_stores[update_store], sector, ("update", "update-cache"))
    return sector, snap

"""The chain's view of its sectors (`sealer-fsm devnet sectors`), read from devnet.db alone, worker running or not.

A sector as the chain records it: its state, the CommD and CommR it was sealed with (as CIDs), its pieces where
AddPiece puts them (deal pieces with their deal id, pledge pieces with none), its Snap Deals upgrade if it has one,
the store holding its replica, and the operator's rebuild and unseal requests with how they went.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sealer_fsm.manager._types import SectorId
from sealer_fsm.manager.devnet._db import DevnetDatabase
from sealer_fsm.proofs import (
    comm_d_from_pieces,
    parse_piece_cid,
    piece_cid_v1,
    piece_layout,
    sealed_cid,
    zero_commitment,
)


def deal_pieces(db: DevnetDatabase, deal_ids: list[int], sector_size: int) -> list[dict[str, Any]]:
    """Every piece of a sector holding these deals, in order: `cid`, padded `size`, `deal_id` (None: pledge)."""
    deals = db.deals(deal_ids)
    slots = piece_layout([deal["piece_size"] for deal in deals], sector_size)
    pieces = []
    for slot in slots:
        if slot.deal is None:
            pieces.append({"cid": piece_cid_v1(zero_commitment(slot.size)), "size": slot.size, "deal_id": None})
        else:
            deal = deals[slot.deal]
            pieces.append({"cid": deal["piece_cid"], "size": deal["piece_size"], "deal_id": deal["deal_id"]})
    return pieces


def pieces_comm_d(pieces: list[dict[str, Any]], sector_size: int) -> bytes:
    return comm_d_from_pieces([(parse_piece_cid(piece["cid"]), piece["size"]) for piece in pieces], sector_size)


def _cid(value: str | None, convert: Any) -> str | None:
    return None if value is None else str(convert(bytes.fromhex(value)))


def _upgrade(db: DevnetDatabase, row: sqlite3.Row) -> dict[str, Any] | None:
    if row["snapup"] != "upgraded":
        return None
    pieces = deal_pieces(db, json.loads(row["snap_deals"]), row["sector_size"])
    return {
        "comm_d": piece_cid_v1(pieces_comm_d(pieces, row["sector_size"])),
        "comm_r": _cid(row["snap_comm_r"], sealed_cid),
        "pieces": pieces,
    }


def _rebuild(db: DevnetDatabase, number: int) -> dict[str, Any] | None:
    rows = db.rebuilds(number)
    if not rows:
        return None
    last = rows[-1]
    return {"status": last["status"], "instance": last["instance"], "detail": last["detail"], "requests": len(rows)}


def _unseals(db: DevnetDatabase, number: int) -> list[dict[str, Any]]:
    return [
        {
            "piece_cid": row["piece_cid"],
            "dests": json.loads(row["dests"]),
            "status": row["status"],
            "error": row["error"],
        }
        for row in db.unseals(number)
    ]


def sector_view(db: DevnetDatabase, row: sqlite3.Row) -> dict[str, Any]:
    deals = None if row["deals"] is None else json.loads(row["deals"])
    return {
        "id": SectorId(row["miner"], row["number"]).name,
        "state": row["status"],
        "comm_d": _cid(row["comm_d"], piece_cid_v1),
        "comm_r": _cid(row["comm_r"], sealed_cid),
        "pieces": [] if deals is None else deal_pieces(db, deals, row["sector_size"]),
        "upgraded": row["snapup"] == "upgraded",
        "upgrade": _upgrade(db, row),
        "persisted": row["persisted"],
        "rebuild": _rebuild(db, row["number"]),
        "unseals": _unseals(db, row["number"]),
    }


def chain_view(db: DevnetDatabase) -> list[dict[str, Any]]:
    """Every sector of the chain, by number."""
    return [sector_view(db, row) for row in db.sectors()]

"""The rebuild and unseal values on the Venus wire: `SectorRebuildInfo`, `SectorUnsealInfo` and their methods'
params, as damocles-manager (`core/types.go`) and damocles-worker (`src/rpc/sealer/mod.rs`) exchange them.

Two fields are ours, added where the reference has nothing to say, and ignored by a damocles-manager (which never
sends them, so a worker joining one checks less): `SealerFsmCommR` of SectorRebuildInfo, the CommR the sector was
sealed with (the reference gives only an upgraded sector's new CommR, in `UpgradePublic`), and `SealerFsmUpgrade`
of SectorUnsealInfo (`CommDNew`, `CommROld`), which decodes a piece of a Snap Deals upgrade (the reference
unseals sealed replicas only).
"""

from __future__ import annotations

from typing import Any

from sealer_fsm.manager._types import Deal, RebuildAllocation, UnsealAllocation, UpgradeInfo
from sealer_fsm.manager.venus._values import (
    Fields,
    WireError,
    bytes32_array,
    cid_object,
    read_array,
    read_bytes32,
    read_text,
)
from sealer_fsm.manager.venus._wire import (
    _allocated_sector,
    _randomness,
    allocated_sector_to_wire,
    deals_from_wire,
    deals_to_wire,
    ticket_to_wire,
)
from sealer_fsm.proofs import SnapUpdate, sealed_cid

Json = Any

# -- rebuild ------------------------------------------------------------------------------------------------


def rebuild_allocation_to_wire(allocation: RebuildAllocation | None) -> Json:
    """A SectorRebuildInfo: the pieces of an upgraded sector are its upgrade's (`IsSnapUp`), as the reference's
    manager fills them; `Pieces` (the v1 deals) stays null."""
    if allocation is None:
        return None
    upgrade = allocation.upgrade
    value: dict[str, Any] = {
        "Sector": allocated_sector_to_wire(allocation.sector),
        "Ticket": ticket_to_wire(allocation.ticket),
        "Pieces": None,
        "PiecesV2": deals_to_wire(allocation.deals if upgrade is None else upgrade.deals),
        "IsSnapUp": upgrade is not None,
        "UpgradePublic": None,
    }
    if upgrade is not None:
        value["UpgradePublic"] = {
            "CommR": bytes32_array(upgrade.comm_r),
            "SealedCID": cid_object(sealed_cid(upgrade.comm_r)),
            "Activation": 0,
            "Expiration": 0,
        }
    if allocation.comm_r is not None:
        value["SealerFsmCommR"] = bytes32_array(allocation.comm_r)
    return value


def rebuild_allocation_from_wire(value: Json, path: str = "SectorRebuildInfo") -> RebuildAllocation | None:
    if value is None:
        return None
    fields = Fields(value, path)
    deals = _rebuild_deals(value, fields, path)
    upgrade = None
    if fields.boolean("IsSnapUp"):
        public = fields.optional_sub("UpgradePublic")
        if public is None:
            raise WireError(f"{path}.UpgradePublic: an upgraded sector needs its public info (CommR)")
        upgrade, deals = UpgradeInfo(public.bytes32("CommR"), deals), []
    comm_r = value.get("SealerFsmCommR")
    return RebuildAllocation(
        sector=_allocated_sector(fields.sub("Sector")),
        ticket=_randomness(fields.sub("Ticket"), "Ticket"),
        deals=deals,
        comm_r=None if comm_r is None else read_bytes32(comm_r, f"{path}.SealerFsmCommR"),
        upgrade=upgrade,
    )


def _rebuild_deals(value: dict[str, Any], fields: Fields, path: str) -> list[Deal]:
    """PiecesV2, or for a manager that filled only the v1 `Pieces` (LegacyDealInfo), those."""
    if value.get("PiecesV2"):
        return deals_from_wire(value["PiecesV2"], f"{path}.PiecesV2")
    deals = []
    for index, item in enumerate(fields.optional_array("Pieces") or []):
        legacy = Fields(item, f"{path}.Pieces[{index}]")
        piece = legacy.sub("Piece")
        deals.append(
            Deal(legacy.unsigned("ID"), piece.cid("Cid"), piece.unsigned("Size"), legacy.unsigned("PayloadSize"))
        )
    return deals


# -- unseal -------------------------------------------------------------------------------------------------


def unseal_allocation_to_wire(allocation: UnsealAllocation | None) -> Json:
    if allocation is None:
        return None
    value: dict[str, Any] = {
        "Sector": allocated_sector_to_wire(allocation.sector),
        "PieceCid": cid_object(allocation.piece_cid),
        "Offset": allocation.offset,
        "Size": allocation.size,
        "PrivateInfo": {"AccessInstance": allocation.access_instance},
        "Ticket": ticket_to_wire(allocation.ticket),
        "CommD": bytes32_array(allocation.comm_d),
    }
    if allocation.upgrade is not None:
        value["SealerFsmUpgrade"] = {
            "CommDNew": bytes32_array(allocation.upgrade.comm_d_new),
            "CommROld": bytes32_array(allocation.upgrade.comm_r_old),
        }
    return value


def unseal_allocation_from_wire(value: Json, path: str = "SectorUnsealInfo") -> UnsealAllocation | None:
    if value is None:
        return None
    fields = Fields(value, path)
    upgrade = fields.optional_sub("SealerFsmUpgrade")
    return UnsealAllocation(
        sector=_allocated_sector(fields.sub("Sector")),
        piece_cid=fields.cid("PieceCid"),
        offset=fields.unsigned("Offset"),
        size=fields.unsigned("Size"),
        ticket=_randomness(fields.sub("Ticket"), "Ticket"),
        comm_d=fields.bytes32("CommD"),
        access_instance=fields.sub("PrivateInfo").text("AccessInstance"),
        upgrade=None
        if upgrade is None
        else SnapUpdate(comm_d_new=upgrade.bytes32("CommDNew"), comm_r_old=upgrade.bytes32("CommROld")),
    )


def dests_from_wire(value: Json, path: str = "[Dest]") -> list[str]:
    """AcquireUnsealDest's answer: the destination URLs (null is none)."""
    if value is None:
        return []
    return [read_text(item, f"{path}[{index}]") for index, item in enumerate(read_array(value, path))]

"""The devnet's rebuild and unseal service, both sides of it.

The operator's side (`sealer-fsm devnet rebuild|unseal`): a finished sector is marked lost (its files are removed
from every attached store) and queued for a rebuild; a deal's piece is queued for an unseal to a destination URL.

The worker's side, as the reference manager serves it (reference-damocles.md sections 1.6, 1.7 and 7): a rebuild
thread is given the lost sector with its deals, its original ticket and what the chain recorded (CommR, and the
upgrade's CommR and deals for an upgraded sector); it reports the rebuilt files with SubmitPersistedEx, which
ends the rebuild, or aborts it with ReportAborted. An unseal thread is given the piece's place in the sector, the
ticket, CommD and the store holding the replica; it asks where to upload (AcquireUnsealDest) and says how it went
(AchieveUnsealSector). A sector waiting for its rebuild is offered to no unseal and no upgrade.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sealer_fsm.manager._types import (
    AllocatedSector,
    Deal,
    ManagerError,
    Randomness,
    RebuildAllocation,
    SectorId,
    UnsealAllocation,
    UpgradeInfo,
)
from sealer_fsm.manager.devnet import _verify
from sealer_fsm.manager.devnet._db import DevnetDatabase
from sealer_fsm.manager.devnet._view import chain_view
from sealer_fsm.proofs import SnapUpdate, piece_layout, piece_offsets, unpadded_size

_REPLICA_KINDS = ("sealed", "cache", "update", "update-cache")
DEST_SCHEMES = ("file", "store", "http", "https")


def check_dest(dest: str, stores: dict[str, Path]) -> None:
    """A destination the unseal step can upload to (ValueError naming what is wrong): `file:///PATH`,
    `store://NAME/PATH` with NAME an attached store, or `http(s)://HOST/...`."""
    url = urlsplit(dest)
    hint = "use file:///PATH, store://STORE/PATH or http(s)://HOST/PATH"
    if url.scheme not in DEST_SCHEMES:
        raise ValueError(f"destination {dest!r}: unsupported scheme {url.scheme!r}; {hint}")
    if url.scheme == "file" and (url.netloc not in ("", "localhost") or not url.path.startswith("/")):
        raise ValueError(f"destination {dest!r}: a file URL names an absolute path on this host (file:///PATH)")
    if url.scheme == "store" and url.netloc not in stores:
        known = ", ".join(sorted(stores)) or "none"
        raise ValueError(f"destination {dest!r}: {url.netloc!r} is not an attached store (stores: {known})")
    if url.scheme == "store" and url.path.strip("/") == "":
        raise ValueError(f"destination {dest!r}: give the path in the store (store://STORE/PATH)")
    if url.scheme in ("http", "https") and not url.netloc:
        raise ValueError(f"destination {dest!r}: an HTTP URL needs a host; {hint}")


class RequestService:
    """Mixed into `DevnetManager`: the rebuild and unseal requests of its chain."""

    db: DevnetDatabase
    proof_type: int | None
    all_stores: dict[str, Path]

    if TYPE_CHECKING:  # provided by DevnetManager

        def _call(self, method: str, sector: int = 0) -> None: ...
        def _row(self, sector: SectorId) -> Any: ...
        def _deals(self, deal_ids: list[int]) -> list[Deal]: ...
        def _allowed(self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None) -> bool: ...

    # -- the operator's side ------------------------------------------------------------------------------------

    def _finished_sector(self, sector: SectorId, what: str) -> sqlite3.Row:
        row = self.db.sector(sector.number)
        if row is None or row["miner"] != sector.miner:
            raise ValueError(f"the chain has no sector {sector.name}")
        if row["status"] != "finalized":
            raise ValueError(f"{sector.name} is {row['status']}, not finished: only a finished sector can be {what}")
        return row

    def request_rebuild(self, sector: SectorId) -> list[Path]:
        """Mark a finished sector lost and queue it for a rebuild thread: its replica and cache files (sealed and
        updated) are removed from every attached store first. Returns the paths removed; ValueError in one
        sentence when the sector cannot be rebuilt."""
        row = self._finished_sector(sector, "rebuilt")
        if row["snapup"] == "allocated":
            raise ValueError(f"{sector.name} is being upgraded; rebuild it once the upgrade is over")
        pending = self.db.pending_rebuild(sector.number)
        if pending is not None:
            raise ValueError(f"a rebuild of {sector.name} is already {pending['status']}")
        removed = []
        for store in sorted(self.all_stores.values()):
            for kind in _REPLICA_KINDS:
                path = store / kind / sector.name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
                else:
                    continue
                removed.append(path)
        self.db.insert_rebuild(sector.number)  # after the removal: a rebuilt copy is never removed by it
        return removed

    def request_unseal(self, sector: SectorId, piece_cid: str, dest: str) -> dict[str, Any]:
        """Queue the unseal of a deal piece of a finished sector to `dest` (added to the request still queued for
        the same piece, if any). ValueError in one sentence for a piece, sector or destination it cannot serve."""
        row = self._finished_sector(sector, "unsealed")
        check_dest(dest, self.all_stores)
        deals = self._sealed_deals(row) + self._upgrade_deals(row)
        if piece_cid not in {deal.piece_cid for deal in deals}:
            known = ", ".join(deal.piece_cid for deal in deals) or "none, it holds no deal"
            raise ValueError(f"{piece_cid} is not a deal piece of {sector.name} (its deal pieces: {known})")
        request = self.db.queue_unseal(sector.number, piece_cid, dest)
        return {"id": sector.name, "piece_cid": piece_cid, "dests": json.loads(request["dests"]), "status": "queued"}

    def sectors_view(self) -> list[dict[str, Any]]:
        return chain_view(self.db)

    # -- rebuild, the worker's side -----------------------------------------------------------------------------

    async def allocate_rebuild_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> RebuildAllocation | None:
        self._call("AllocateRebuildSector")
        if not self._allowed(allowed_miners, allowed_sizes):
            return None
        request = self.db.take_rebuild(request_id)
        if request is None:
            return None
        row = self._requested_sector(request)
        upgrade = None
        if row["snapup"] == "upgraded":
            upgrade = UpgradeInfo(bytes.fromhex(row["snap_comm_r"]), self._upgrade_deals(row))
        return RebuildAllocation(
            self._allocated(row),
            Randomness(bytes.fromhex(row["ticket"]), row["ticket_epoch"]),
            self._sealed_deals(row),
            bytes.fromhex(row["comm_r"]),
            upgrade,
        )

    def _rebuild_persisted(self, sector: int, instance: str, is_upgrade: bool) -> bool:
        """SubmitPersistedEx of a sector being rebuilt ends its rebuild; False when the files are not the kind the
        sector needs (sealed for a sealed sector, updated for an upgraded one)."""
        request = self.db.pending_rebuild(sector)
        if request is None or request["status"] != "allocated":
            return True
        if is_upgrade != (self._requested_sector(request)["snapup"] == "upgraded"):
            return False
        self.db.update_rebuild(request["seq"], status="finished", instance=instance)
        return True

    def _rebuild_aborted(self, sector: int, reason: str) -> bool:
        """ReportAborted of a sector being rebuilt aborts the rebuild (the sector stays finished, and lost)."""
        request = self.db.pending_rebuild(sector)
        if request is None or request["status"] != "allocated":
            return False
        self.db.update_rebuild(request["seq"], status="aborted", detail=reason)
        return True

    # -- unseal, the worker's side ------------------------------------------------------------------------------

    async def allocate_unseal_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> UnsealAllocation | None:
        self._call("AllocateUnsealSector")
        if not self._allowed(allowed_miners, allowed_sizes):
            return None
        while (request := self.db.take_unseal(request_id)) is not None:
            allocation = self._unseal_allocation(self._requested_sector(request), request["piece_cid"])
            if isinstance(allocation, UnsealAllocation):
                return allocation
            self.db.update_unseal(request["seq"], status="failed", error=allocation)
            request_id = None  # that request failed: the next one is a new allocation
        return None

    def _unseal_allocation(self, row: sqlite3.Row, piece_cid: str) -> UnsealAllocation | str:
        """The allocation for a piece of the sector, or why it cannot be unsealed (a sentence)."""
        name = SectorId(row["miner"], row["number"]).name
        sealed = self._sealed_deals(row)
        upgrade = None
        deals, kinds = sealed, ("sealed", "cache")
        if piece_cid not in {deal.piece_cid for deal in sealed}:
            deals, kinds = self._upgrade_deals(row), ("update", "update-cache")
            comm_d_new = _verify.expected_comm_d(deals, row["sector_size"])
            upgrade = SnapUpdate(comm_d_new=comm_d_new, comm_r_old=bytes.fromhex(row["comm_r"]))
        instance = self._store_holding(name, kinds, row["persisted"])
        if instance is None:
            return f"the {kinds[0]} replica of {name} is in no store; rebuild the sector first"
        index = [deal.piece_cid for deal in deals].index(piece_cid)
        slots = piece_layout([deal.piece_size for deal in deals], row["sector_size"])
        padded_offset = next(
            offset for offset, slot in zip(piece_offsets(slots), slots, strict=True) if slot.deal == index
        )
        return UnsealAllocation(
            self._allocated(row),
            piece_cid,
            offset=padded_offset // 128 * 127,
            size=unpadded_size(deals[index].piece_size),
            ticket=Randomness(bytes.fromhex(row["ticket"]), row["ticket_epoch"]),
            comm_d=bytes.fromhex(row["comm_d"]),
            access_instance=instance,
            upgrade=upgrade,
        )

    def _store_holding(self, name: str, kinds: tuple[str, str], preferred: str | None) -> str | None:
        """The store holding the sector's replica of this kind: the one the chain recorded, else any."""
        candidates = ([preferred] if preferred in self.all_stores else []) + sorted(self.all_stores)
        return next((store for store in candidates if _verify.files_present(self.all_stores[store], name, kinds)), None)

    def _request_served(self, sector: SectorId, piece_cid: str, method: str) -> sqlite3.Row:
        request = self.db.unseal_in_progress(sector.number, piece_cid)
        if request is None:
            raise ManagerError(f"devnet: {method}: no unseal of {piece_cid} from {sector.name} was allocated")
        return request

    async def acquire_unseal_dest(self, sector: SectorId, piece_cid: str) -> list[str]:
        self._call("AcquireUnsealDest", sector.number)
        request = self._request_served(sector, piece_cid, "AcquireUnsealDest")
        if request["status"] == "unsealing":
            self.db.update_unseal(request["seq"], status="uploading")
        dests: list[str] = json.loads(request["dests"])
        return dests

    async def achieve_unseal_sector(self, sector: SectorId, piece_cid: str, error: str) -> None:
        """Idempotent: an unseal already over stays as it ended."""
        self._call("AchieveUnsealSector", sector.number)
        request = self._request_served(sector, piece_cid, "AchieveUnsealSector")
        if request["status"] in ("unsealing", "uploading"):
            status = "failed" if error else "finished"
            self.db.update_unseal(request["seq"], status=status, error=error or None)

    # -- shared -------------------------------------------------------------------------------------------------

    def _served(self, sector: int) -> bool:
        """Whether a worker rebuilds or unseals the (finished) sector now: its reports are of live work then."""
        rebuild = self.db.pending_rebuild(sector)
        if rebuild is not None and rebuild["status"] == "allocated":
            return True
        return any(request["status"] in ("unsealing", "uploading") for request in self.db.unseals(sector))

    def _requested_sector(self, request: sqlite3.Row) -> sqlite3.Row:
        row = self.db.sector(request["sector"])
        if row is None:  # requests are only queued for sectors of the chain, which are never removed
            raise ManagerError(f"devnet: a request names sector {request['sector']}, which the chain does not have")
        return row

    def _allocated(self, row: sqlite3.Row) -> AllocatedSector:
        return AllocatedSector(SectorId(row["miner"], row["number"]), row["sector_size"], self.proof_type)

    def _sealed_deals(self, row: sqlite3.Row) -> list[Deal]:
        return self._deals(json.loads(row["deals"] or "[]"))

    def _upgrade_deals(self, row: sqlite3.Row) -> list[Deal]:
        return self._deals(json.loads(row["snap_deals"])) if row["snapup"] == "upgraded" else []

"""The unseal plan's steps: a deal's piece read back out of a sealed (or upgraded) sector and uploaded.

`unseal_piece` decodes the piece's range of the replica in the store that holds it, with the key recomputed
from the ticket (`sealer_fsm.proofs.unseal_range`: PC1 again, as the reference does), into
`data/unsealed/<piece CID>`, and checks that its CommP is the requested piece CID before anything leaves this
host: a mismatch is Permanent. `upload_piece` puts it at every destination the manager gives
(AcquireUnsealDest) and reports the unseal done (AchieveUnsealSector); an abort reports it failed, with why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm.manager import Randomness
from sealer_fsm.proofs import (
    SnapUpdate,
    commp_file,
    parse_piece_cid,
    piece_cid_v1,
    unseal_range,
)
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    access_store_path,
    call,
    file_errors,
    file_failure,
    manager,
    remove_path,
    sector_id,
)
from sealer_fsm.steps._upload import shown, upload
from sealer_fsm.steps.finalization import abort_reason, report_finalized


def piece_file(ctx: StepContext) -> Path:
    """Where the unsealed piece is written: `data/unsealed/<piece CID>`, as the reference names it (a CID is
    letters and digits only, never a path)."""
    piece_cid = ctx.require("unseal")["piece_cid"]
    if not isinstance(piece_cid, str) or not piece_cid.isascii() or not piece_cid.isalnum():
        raise Permanent(f"the piece to unseal, {piece_cid!r}, is not a piece CID")
    return ctx.location / "data" / "unsealed" / piece_cid


def _replica(ctx: StepContext, upgrade: SnapUpdate | None) -> Path:
    """The replica in the store that holds it; a sector sealed with a simulated PC2 has none to decode."""
    store = SectorFiles(access_store_path(ctx, ctx.require("access_instance")), ctx.require("sector_id"))
    replica, cache = ("update", "update-cache") if upgrade else ("sealed", "cache")
    if store.path(cache).is_dir() and not (store.path(cache) / "t_aux").exists():
        raise Permanent(
            f"{ctx.sector} was sealed with a simulated PC2 (no t_aux in {store.path(cache)}): its replica holds no "
            "encoding to unseal"
        )
    return store.path(replica)


def _upgrade(unseal: dict[str, Any]) -> SnapUpdate | None:
    raw = unseal.get("upgrade")
    if raw is None:
        return None
    return SnapUpdate(comm_d_new=bytes.fromhex(raw["comm_d_new"]), comm_r_old=bytes.fromhex(raw["comm_r_old"]))


def _sealing(ctx: StepContext) -> dict[str, Any]:
    """The arguments of `unseal_range` that say how the sector was sealed and where the piece lies."""
    unseal = ctx.require("unseal")
    return {
        "miner": ctx.require("miner"),
        "sector_number": ctx.require("number"),
        "ticket": Randomness.from_json(ctx.require("ticket")).value,
        "comm_d": bytes.fromhex(ctx.require("comm_d")),
        "proof_type": ctx.require("proof_type"),
        "offset": unseal["offset"],
        "num_bytes": unseal["size"],
        "update": _upgrade(unseal),
    }


def _commp(path: Path) -> bytes:
    with file_errors(f"compute the CommP of {path}"):
        return commp_file(path).comm


async def unseal_piece(ctx: StepContext) -> StepResult:
    """Allocated → Unsealed: the piece decoded into `data/unsealed/<piece CID>`, its CommP checked.

    Safe to run again: PC1 keeps its whole layers, and the piece file is written whole or not at all. The scratch
    layers are removed once the piece is out."""
    piece_cid = ctx.require("unseal")["piece_cid"]
    what = f"unseal of {piece_cid} from {ctx.sector}"
    try:
        requested = parse_piece_cid(piece_cid)
        sealing = _sealing(ctx)
    except ValueError as error:
        raise Permanent(f"{what}: {error}") from error
    replica, output, scratch = _replica(ctx, sealing["update"]), piece_file(ctx), SectorFiles.of(ctx).cache
    try:
        out = await ctx.run_blocking(unseal_range, scratch, replica, output, **sealing, cancel=ctx.cancel_token)
    except ValueError as error:  # a bad range or sealing value, a missing or corrupt replica
        raise Permanent(f"{what}: {error}") from error
    except OSError as error:
        raise file_failure(error, what, writing=output) from error
    await ctx.run_blocking(remove_path, scratch)
    comm_p = await ctx.run_blocking(_commp, output)
    if comm_p != requested:
        await ctx.run_blocking(remove_path, output)
        raise Permanent(
            f"{what}: the unsealed data has CommP {piece_cid_v1(comm_p)}, not the requested piece {piece_cid}; "
            "nothing was uploaded"
        )
    ctx.log.info(
        "%s: %d bytes of %s unsealed in %.1f s, CommP checked", ctx.sector, out.bytes_written, piece_cid, out.seconds
    )
    return Outcome("UnsealDone", {"unsealed": {"path": str(output), "bytes": out.bytes_written}})


async def upload_piece(ctx: StepContext) -> StepResult:
    """Unsealed → Finished: the piece put at every destination the manager gives, then the unseal reported done.

    Safe to run again: every upload replaces what an earlier attempt put there."""
    piece_cid, sector = ctx.require("unseal")["piece_cid"], sector_id(ctx)
    path = Path(ctx.require("unsealed")["path"])
    if not path.is_file():
        raise Permanent(f"the unsealed piece {path} is missing; resume the thread into Allocated to unseal it again")
    dests = await call("AcquireUnsealDest", manager(ctx).acquire_unseal_dest(sector, piece_cid))
    for dest in dests:
        await upload(ctx, path, dest)
        ctx.log.info("%s: %s uploaded to %s", ctx.sector, piece_cid, shown(dest))
    await call("AchieveUnsealSector", manager(ctx).achieve_unseal_sector(sector, piece_cid, ""))
    return "UploadPieceDone"


async def _remove_local_files(ctx: StepContext) -> None:
    await ctx.run_blocking(SectorFiles.of(ctx).remove)
    if "unseal" in ctx.data:
        await ctx.run_blocking(remove_path, piece_file(ctx))


async def finish_unseal(ctx: StepContext) -> None:
    """Finished: reported to the manager (ReportFinalized, as after every plan), local files removed."""
    await report_finalized(ctx)
    await _remove_local_files(ctx)


async def abort_unseal(ctx: StepContext) -> None:
    """Abort: local files removed, and the unseal reported failed with the reason (AchieveUnsealSector with an
    error); the sealed sector itself is not aborted, so no ReportAborted."""
    if "sector_id" not in ctx.data:
        return
    await _remove_local_files(ctx)
    if "unseal" in ctx.data:
        reason = abort_reason(ctx) or "aborted"
        piece_cid = ctx.require("unseal")["piece_cid"]
        await call("AchieveUnsealSector", manager(ctx).achieve_unseal_sector(sector_id(ctx), piece_cid, reason))
        ctx.log.warning("%s: unseal of %s aborted (%s), files removed", ctx.sector, piece_cid, reason)

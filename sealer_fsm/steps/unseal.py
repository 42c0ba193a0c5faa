"""The unseal plan's steps: a deal's piece read back out of a sealed (or upgraded) sector and uploaded.

`unseal_piece` decodes the piece's range of the replica in the store that holds it, with the key recomputed
from the ticket, into `data/unsealed/<piece CID>`, and checks that its CommP is the requested piece CID before
anything leaves this host: a mismatch is Permanent. The decoding is the unseal processor's (the built-in one is
`sealer_fsm.proofs.unseal_range`, labelling the key again as the reference does; an external one speaks the
reference's protocol). `upload_piece` puts it at every destination the manager gives (AcquireUnsealDest) and
reports the unseal done (AchieveUnsealSector); an abort reports it failed, with why.
"""

from __future__ import annotations

from pathlib import Path

from sealer_fsm.proofs import commp_file, parse_piece_cid, piece_cid_v1
from sealer_fsm.runtime import Outcome, Permanent, StepContext, StepResult
from sealer_fsm.steps._common import (
    SectorFiles,
    access_store_path,
    call,
    file_errors,
    manager,
    remove_path,
    sector_id,
)
from sealer_fsm.steps._tasks import unseal_task
from sealer_fsm.steps._upload import shown, upload
from sealer_fsm.steps.finalization import abort_reason, report_finalized


def piece_file(ctx: StepContext) -> Path:
    """Where the unsealed piece is written: `data/unsealed/<piece CID>`, as the reference names it (a CID is
    letters and digits only, never a path)."""
    piece_cid = ctx.require("unseal")["piece_cid"]
    if not isinstance(piece_cid, str) or not piece_cid.isascii() or not piece_cid.isalnum():
        raise Permanent(f"the piece to unseal, {piece_cid!r}, is not a piece CID")
    return ctx.location / "data" / "unsealed" / piece_cid


def _replica_files(ctx: StepContext) -> SectorFiles:
    """The sector's files in the store that holds its replica; a sector sealed with a simulated PC2 has no replica
    to decode (its cache has no t_aux, which only a real PC2 writes)."""
    store = SectorFiles(access_store_path(ctx, ctx.require("access_instance")), ctx.require("sector_id"))
    cache = store.path("update-cache" if ctx.require("unseal").get("upgrade") else "cache")
    if cache.is_dir() and not (cache / "t_aux").exists():
        raise Permanent(
            f"{ctx.sector} was sealed with a simulated PC2 (no t_aux in {cache}): its replica holds no encoding to "
            "unseal"
        )
    return store


def _commp(path: Path) -> bytes:
    with file_errors(f"compute the CommP of {path}"):
        return commp_file(path).comm


async def unseal_piece(ctx: StepContext) -> StepResult:
    """Allocated → Unsealed: the piece decoded into `data/unsealed/<piece CID>`, its CommP checked.

    Safe to run again: PC1 keeps its whole layers, and the piece file is written whole or not at all. The scratch
    layers are removed once the piece is out."""
    unseal, output, scratch = ctx.require("unseal"), piece_file(ctx), SectorFiles.of(ctx).cache
    piece_cid = unseal["piece_cid"]
    what = f"unseal of {piece_cid} from {ctx.sector}"
    try:
        requested = parse_piece_cid(piece_cid)
        task = unseal_task(ctx, _replica_files(ctx), output, scratch)
    except ValueError as error:
        raise Permanent(f"{what}: {error}") from error
    result = await ctx.processors.run("unseal", task)
    if not isinstance(result.output, int) or result.output != unseal["size"]:
        raise Permanent(f"{what}: processor {result.processor} wrote {result.output!r} bytes, not {unseal['size']}")
    await ctx.run_blocking(remove_path, scratch)
    comm_p = await ctx.run_blocking(_commp, output)
    if comm_p != requested:
        await ctx.run_blocking(remove_path, output)
        raise Permanent(
            f"{what}: the unsealed data has CommP {piece_cid_v1(comm_p)}, not the requested piece {piece_cid}; "
            "nothing was uploaded"
        )
    ctx.log.info(
        "%s: %d bytes of %s unsealed by %s, CommP checked", ctx.sector, result.output, piece_cid, result.processor
    )
    return Outcome("UnsealDone", {"unsealed": {"path": str(output), "bytes": result.output}})


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
    return Outcome("UploadPieceDone", {"uploaded": len(dests)})


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

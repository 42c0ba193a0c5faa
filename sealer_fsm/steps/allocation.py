"""Steps that get work from the sector manager: a new sector, its deals, or a finished CC sector to upgrade."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TypeVar

from sealer_fsm.manager import ManagerError
from sealer_fsm.runtime import IDLE, AbortTask, Outcome, StepContext, StepResult
from sealer_fsm.steps._common import SectorFiles, allowed_sizes, call, manager, sector_id

T = TypeVar("T")
# The task-data key of the allocation request id (the manager answers a repeated id with the same sector).
REQUEST_KEY = "allocation_request"


async def _ask_for_work(ctx: StepContext, what: str, request: Awaitable[T | None]) -> T | None:
    """The manager's allocation, or None when it has nothing now or fails: both mean Idle, as in the reference."""
    try:
        return await request
    except ManagerError as error:
        ctx.log.info("no %s allocated: %s", what, error)
        return None


async def _request_id(ctx: StepContext) -> str:
    """This task's allocation request id: stored before the manager is first asked, so that a worker that died
    before it could store the answer asks again with the same id and is given the same sector."""
    request_id = ctx.data.get(REQUEST_KEY)
    if request_id is None:
        request_id = uuid.uuid4().hex
        await ctx.save(**{REQUEST_KEY: request_id})
    return str(request_id)


async def allocate_sector(ctx: StepContext) -> StepResult:
    """Empty → Allocated. No sector now, or a manager error, is Idle (try again later), as in the reference."""
    request_id = await _request_id(ctx)
    request = manager(ctx).allocate_sector(
        ctx.sealing.allowed_miners, allowed_sizes(ctx.sealing), request_id=request_id
    )
    sector = await _ask_for_work(ctx, "sector", request)
    if sector is None:
        return IDLE
    SectorFiles(ctx.location / "data", sector.id.name).prepare()
    return Outcome("Allocate", sector.task_data())


async def acquire_deals(ctx: StepContext) -> StepResult:
    """Allocated → DealsAcquired: deals from the manager, or none (a committed-capacity sector of pledge data)."""
    sealing = ctx.sealing
    if not sealing.enable_deals:
        return IDLE if sealing.disable_cc else Outcome("AcquireDeals", {"deals": []})
    request = manager(ctx).acquire_deals(sector_id(ctx), sealing.max_deals, min_used_space=sealing.min_deal_space)
    deals = await call("AcquireDeals", request)
    if not deals and sealing.disable_cc:
        return IDLE
    return Outcome("AcquireDeals", {"deals": [deal.to_json() for deal in deals]})


async def allocate_snapup_sector(ctx: StepContext) -> StepResult:
    """snapup Empty → Allocated: a finished CC sector, the deals to put in it, and where its replica lives."""
    request_id = await _request_id(ctx)
    request = manager(ctx).allocate_snapup_sector(
        ctx.sealing.allowed_miners, allowed_sizes(ctx.sealing), request_id=request_id
    )
    allocation = await _ask_for_work(ctx, "snapup sector", request)
    if allocation is None:
        return IDLE
    name = allocation.sector.id.name
    if not allocation.deals:
        raise AbortTask(f"snapup sector {name} was allocated without deals")
    if not allocation.access_instance:
        raise AbortTask(f"snapup sector {name} was allocated without the store holding its replica")
    SectorFiles(ctx.location / "data", name).prepare()
    return Outcome(
        "AllocatedSnapUpSector",
        {
            **allocation.sector.task_data(),
            "deals": [deal.to_json() for deal in allocation.deals],
            "old_comm_r": allocation.old_comm_r.hex(),
            "access_instance": allocation.access_instance,
        },
    )


async def allocate_rebuild_sector(ctx: StepContext) -> StepResult:
    """rebuild Empty → Allocated: a finished sector whose files were lost, with the deals and the ticket it was
    sealed with and what the chain recorded of it (its CommR, its upgrade)."""
    request = manager(ctx).allocate_rebuild_sector(ctx.sealing.allowed_miners, allowed_sizes(ctx.sealing))
    allocation = await _ask_for_work(ctx, "rebuild sector", request)
    if allocation is None:
        return IDLE
    SectorFiles(ctx.location / "data", allocation.sector.id.name).prepare()
    return Outcome("AllocatedRebuildSector", allocation.task_data())


async def allocate_unseal_sector(ctx: StepContext) -> StepResult:
    """unseal Empty → Allocated: a deal's piece to read back out of a sealed sector, with its place in the sector,
    the sealing's ticket and CommD, and the store holding the replica."""
    request = manager(ctx).allocate_unseal_sector(ctx.sealing.allowed_miners, allowed_sizes(ctx.sealing))
    allocation = await _ask_for_work(ctx, "unseal sector", request)
    if allocation is None:
        return IDLE
    SectorFiles(ctx.location / "data", allocation.sector.id.name).prepare()
    return Outcome("AllocatedUnsealSector", allocation.task_data())

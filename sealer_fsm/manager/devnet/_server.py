"""`sealer-fsm devnet serve`: one devnet chain served on the reference manager's `Venus.*` API.

Workers on other hosts join it exactly as they would join a damocles-manager (`[sector_manager] rpc_client.addr`
pointing here): JSON-RPC at `/rpc/v0`, deal pieces at `/piecestore/<cid>`. Params are decoded and results
encoded by the same wire module the client uses; a method's error is go-jsonrpc's code 1, a sector the chain
does not know is 11001 (SectorStateNotFound), as damocles-manager answers. The devnet's state lives in its
SQLite database, so a killed server restarts where it stopped, and every call runs on one event loop, so no
sector number is ever handed out twice, however many workers ask at once.
"""

from __future__ import annotations

import collections
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sealer_fsm.manager._types import ManagerError, SectorStateNotFound
from sealer_fsm.manager.devnet._manager import DevnetManager
from sealer_fsm.manager.venus import _wire as wire
from sealer_fsm.manager.venus import _wire_requests as requests_wire
from sealer_fsm.manager.venus._client import REQUEST_ID_HEADER
from sealer_fsm.manager.venus._values import WireError, read_array, read_cid, read_text, read_unsigned
from sealer_fsm.rpc import (
    INVALID_PARAMS,
    REQUEST_HEADERS,
    Dispatcher,
    Method,
    Param,
    Route,
    RpcError,
    RpcHttpServer,
    ServerLimits,
)

METHOD_ERROR = 1  # go-jsonrpc's code for an error a method returned
RPC_PATH = "/rpc/v0"
_TIMINGS_KEPT = 4096


def _venus(function: Callable[..., Awaitable[Any]], *names: str) -> Method:
    """A Venus method: every param required (the exact count, as go-jsonrpc checks it), errors as the reference
    answers them."""

    async def call(**arguments: Any) -> Any:
        try:
            return await function(**arguments)
        except WireError as error:
            raise RpcError(INVALID_PARAMS, f"invalid params: {error}") from error
        except SectorStateNotFound as error:
            raise RpcError(SectorStateNotFound.code, f"sector state not found: {error}") from error
        except ManagerError as error:
            raise RpcError(METHOD_ERROR, str(error)) from error

    return Method(call, tuple(Param(name, object) for name in names))


class _Timings:
    """Recent durations of each method, for `SealerFsm.DevnetStats` (the cluster bench's p99 per method)."""

    def __init__(self) -> None:
        self._seconds: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=_TIMINGS_KEPT)
        )
        self._calls: collections.Counter[str] = collections.Counter()
        self._errors: collections.Counter[str] = collections.Counter()

    def observe(self, method: str, ok: bool, seconds: float) -> None:
        self._seconds[method].append(seconds)
        self._calls[method] += 1
        if not ok:
            self._errors[method] += 1

    def report(self) -> dict[str, dict[str, float]]:
        summary = {}
        for method, samples in sorted(self._seconds.items()):
            ordered = sorted(samples)
            summary[method] = {
                "calls": self._calls[method],
                "errors": self._errors[method],
                "p50_ms": 1000 * statistics.median(ordered),
                "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
                "max_ms": 1000 * ordered[-1],
            }
        return summary


class DevnetService:
    """The `Venus.*` method table over one devnet (plus `SealerFsm.DevnetStats`)."""

    def __init__(self, devnet: DevnetManager, version: str) -> None:
        self.devnet = devnet
        self.version = version
        self.timings = _Timings()

    def table(self) -> dict[str, Method]:
        return {
            "Venus.AllocateSector": _venus(self.allocate_sector, "spec"),
            "Venus.AcquireDeals": _venus(self.acquire_deals, "sector", "spec"),
            "Venus.AssignTicket": _venus(self.assign_ticket, "sector"),
            "Venus.SubmitPreCommit": _venus(self.submit_precommit, "sector", "info", "reset"),
            "Venus.PollPreCommitState": _venus(self.poll_precommit, "sector"),
            "Venus.StoreReserveSpace": _venus(self.reserve_space, "sector", "size", "candidates"),
            "Venus.StoreBasicInfo": _venus(self.store_info, "instance"),
            "Venus.SubmitPersisted": _venus(self.submit_persisted, "sector", "instance"),
            "Venus.SubmitPersistedEx": _venus(self.submit_persisted, "sector", "instance", "is_upgrade"),
            "Venus.WaitSeed": _venus(self.wait_seed, "sector", "proof_type"),
            "Venus.SubmitProof": _venus(self.submit_proof, "sector", "info", "reset"),
            "Venus.PollProofState": _venus(self.poll_proof, "sector"),
            "Venus.ReportState": _venus(self.report_state, "sector", "request"),
            "Venus.ReportFinalized": _venus(self.report_finalized, "sector"),
            "Venus.ReportAborted": _venus(self.report_aborted, "sector", "reason"),
            "Venus.AllocateSanpUpSector": _venus(self.allocate_snapup, "spec"),
            "Venus.SubmitSnapUpProof": _venus(self.submit_snapup_proof, "sector", "info"),
            "Venus.AllocateRebuildSector": _venus(self.allocate_rebuild, "spec"),
            "Venus.AllocateUnsealSector": _venus(self.allocate_unseal, "spec"),
            "Venus.AcquireUnsealDest": _venus(self.acquire_unseal_dest, "sector", "piece_cid"),
            "Venus.AchieveUnsealSector": _venus(self.achieve_unseal, "sector", "piece_cid", "error"),
            "Venus.WorkerPing": _venus(self.worker_ping, "info"),
            "Venus.WorkerPingInfoList": _venus(self.worker_pings),
            "Venus.Version": _venus(self.version_text),
            "SealerFsm.DevnetStats": _venus(self.stats),
        }

    async def allocate_sector(self, spec: Any) -> Any:
        miners, sizes = wire.allocate_spec_from_wire(spec)
        sector = await self.devnet.allocate_sector(miners, sizes, **_request_id())
        return None if sector is None else wire.allocated_sector_to_wire(sector)

    async def acquire_deals(self, sector: Any, spec: Any) -> Any:
        max_deals, min_used_space = wire.deals_spec_from_wire(spec)
        deals = await self.devnet.acquire_deals(wire.sector_id_from_wire(sector), max_deals, min_used_space)
        return wire.deals_to_wire(deals)

    async def assign_ticket(self, sector: Any) -> Any:
        return wire.ticket_to_wire(await self.devnet.assign_ticket(wire.sector_id_from_wire(sector)))

    async def submit_precommit(self, sector: Any, info: Any, reset: Any) -> Any:
        allocated = wire.allocated_sector_from_wire(sector)
        if allocated is None:
            raise WireError("AllocatedSector: expected an object, got None")
        reply = await self.devnet.submit_precommit(
            allocated.id, wire.precommit_from_wire(info), _flag(reset, "reset"), proof_type=allocated.proof_type
        )
        return wire.submit_reply_to_wire(reply)

    async def poll_precommit(self, sector: Any) -> Any:
        return wire.poll_reply_to_wire(await self.devnet.poll_precommit(wire.sector_id_from_wire(sector)))

    async def reserve_space(self, sector: Any, size: Any, candidates: Any) -> Any:
        names = [read_text(name, "candidates[]") for name in read_array(candidates, "candidates")]
        reserved = read_unsigned(size, "size")
        return wire.store_info_to_wire(
            await self.devnet.reserve_space(wire.sector_id_from_wire(sector), reserved, names)
        )

    async def store_info(self, instance: Any) -> Any:
        return wire.store_info_to_wire(await self.devnet.store_info(read_text(instance, "instance")))

    async def submit_persisted(self, sector: Any, instance: Any, is_upgrade: Any = False) -> Any:
        sector_id = wire.sector_id_from_wire(sector)
        name = read_text(instance, "instance")
        return await self.devnet.submit_persisted(sector_id, name, _flag(is_upgrade, "is_upgrade"))

    async def wait_seed(self, sector: Any, proof_type: Any) -> Any:
        proof = read_unsigned(proof_type, "proof_type")
        return wire.seed_wait_to_wire(await self.devnet.wait_seed(wire.sector_id_from_wire(sector), proof_type=proof))

    async def submit_proof(self, sector: Any, info: Any, reset: Any) -> Any:
        reply = await self.devnet.submit_proof(
            wire.sector_id_from_wire(sector), wire.proof_from_wire(info), _flag(reset, "reset")
        )
        return wire.submit_reply_to_wire(reply)

    async def poll_proof(self, sector: Any) -> Any:
        return wire.poll_reply_to_wire(await self.devnet.poll_proof(wire.sector_id_from_wire(sector)))

    async def report_state(self, sector: Any, request: Any) -> Any:
        sector_id = wire.sector_id_from_wire(sector)
        reply = await self.devnet.report_state(sector_id, wire.state_report_from_wire(request))
        return wire.sector_state_to_wire(sector_id, reply)

    async def report_finalized(self, sector: Any) -> None:
        await self.devnet.report_finalized(wire.sector_id_from_wire(sector))

    async def report_aborted(self, sector: Any, reason: Any) -> None:
        await self.devnet.report_aborted(wire.sector_id_from_wire(sector), read_text(reason, "reason"))

    async def allocate_snapup(self, spec: Any) -> Any:
        miners, sizes = wire.snapup_spec_from_wire(spec)
        allocation = await self.devnet.allocate_snapup_sector(miners, sizes, **_request_id())
        return wire.snapup_allocation_to_wire(allocation)

    async def submit_snapup_proof(self, sector: Any, info: Any) -> Any:
        reply = await self.devnet.submit_snapup_proof(
            wire.sector_id_from_wire(sector), wire.snapup_proof_from_wire(info)
        )
        return wire.submit_reply_to_wire(reply)

    async def allocate_rebuild(self, spec: Any) -> Any:
        miners, sizes = wire.allocate_spec_from_wire(spec)
        allocation = await self.devnet.allocate_rebuild_sector(miners, sizes, **_request_id())
        return requests_wire.rebuild_allocation_to_wire(allocation)

    async def allocate_unseal(self, spec: Any) -> Any:
        miners, sizes = wire.allocate_spec_from_wire(spec)
        allocation = await self.devnet.allocate_unseal_sector(miners, sizes, **_request_id())
        return requests_wire.unseal_allocation_to_wire(allocation)

    async def acquire_unseal_dest(self, sector: Any, piece_cid: Any) -> Any:
        piece = read_cid(piece_cid, "pieceCid")
        return await self.devnet.acquire_unseal_dest(wire.sector_id_from_wire(sector), piece)

    async def achieve_unseal(self, sector: Any, piece_cid: Any, error: Any) -> None:
        piece, reason = read_cid(piece_cid, "pieceCid"), read_text(error, "errInfo")
        await self.devnet.achieve_unseal_sector(wire.sector_id_from_wire(sector), piece, reason)

    async def worker_ping(self, info: Any) -> None:
        await self.devnet.worker_ping(wire.worker_ping_from_wire(info))

    async def worker_pings(self) -> Any:
        return [wire.ping_record_to_wire(record) for record in await self.devnet.worker_pings()]

    async def version_text(self) -> str:
        return f"sealer-fsm devnet {self.version} (simulated chain)"

    async def stats(self) -> Any:
        return self.timings.report()


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"{name}: expected true or false, got {value!r}")
    return value


def _request_id() -> dict[str, str]:
    """The allocation's request id, when the client sent one (our extension; see REQUEST_ID_HEADER)."""
    request_id = REQUEST_HEADERS.get().get(REQUEST_ID_HEADER)
    return {"request_id": request_id} if request_id else {}


class DevnetServer(RpcHttpServer):
    """The devnet on HTTP: `/rpc/v0` (and `/`) for JSON-RPC, `/piecestore/<cid>` for deal data."""

    def __init__(self, service: DevnetService, token: str | None, limits: ServerLimits) -> None:
        dispatcher = Dispatcher(service.table())
        dispatcher.observer = service.timings.observe
        super().__init__(
            dispatcher,
            token=token,
            limits=limits,
            rpc_paths=(RPC_PATH, "/"),
            routes=[Route("GET", "/piecestore/{cid}", self._piece)],
            realm="sealer-fsm devnet",
        )
        self.service = service

    async def _piece(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["cid"]
        started = time.perf_counter()
        try:
            payload = await self.service.devnet.fetch_piece(cid)
        except ManagerError as error:
            self.service.timings.observe("GET /piecestore", False, time.perf_counter() - started)
            return web.Response(status=404, text=f"{error}\n")
        self.service.timings.observe("GET /piecestore", True, time.perf_counter() - started)
        return web.Response(body=payload, content_type="application/octet-stream")

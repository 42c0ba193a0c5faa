"""The Venus client against a real `devnet serve` server (over HTTP, in this process's event loop): every call the
worker makes, the reference's error classes, retries while the manager is away, tokens and the piece store."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _devnet_helpers import FakeContext, devnet_config

from sealer_fsm import __version__
from sealer_fsm.manager import (
    ManagerError,
    SectorId,
    SectorStateNotFound,
    SectorStateReply,
    StateReport,
    ThreadSummary,
    WorkerPing,
)
from sealer_fsm.manager.devnet import DevnetManager, DevnetServer, DevnetService
from sealer_fsm.manager.venus import RpcTransport, VenusClient
from sealer_fsm.proofs import commp_bytes
from sealer_fsm.rpc import ServerLimits, TlsFiles
from sealer_fsm.runtime import Permanent
from sealer_fsm.steps.pieces import add_pieces
from tests.support.tls import self_signed_certificate

T = TypeVar("T")


@asynccontextmanager
async def devnet_server(tmp_path: Path, token: str | None = None, port: int = 0) -> AsyncIterator[DevnetServer]:
    stores = {"a": tmp_path / "store-a", "b": tmp_path / "store-b"}
    for path in stores.values():
        path.mkdir(parents=True, exist_ok=True)
    devnet = DevnetManager(devnet_config(block_time=0.01, seed=3), tmp_path / "home", stores)
    server = DevnetServer(DevnetService(devnet, __version__), token, ServerLimits())
    await server.start("127.0.0.1", port)
    try:
        yield server
    finally:
        await server.close()
        devnet.close()


def client_for(port: int, **options: Any) -> VenusClient:
    transport_options = {key: options.pop(key) for key in ("headers", "retry_for", "timeout") if key in options}
    transport = RpcTransport(f"http://127.0.0.1:{port}/rpc/v0", **{"retry_for": 5.0, **transport_options})
    return VenusClient(transport, **options)


def with_client(tmp_path: Path, body: Callable[[VenusClient, DevnetServer], Awaitable[T]], **options: Any) -> T:
    token = options.pop("server_token", None)

    async def main() -> T:
        async with devnet_server(tmp_path, token) as server:
            client = client_for(server.port, **options)
            try:
                return await body(client, server)
            finally:
                await client.close()

    return asyncio.run(main())


def test_allocation_honours_allowed_miners_and_sizes(tmp_path: Path) -> None:
    async def body(client: VenusClient, _: DevnetServer) -> list[Any]:
        return [
            await client.allocate_sector(None, None),
            await client.allocate_sector([1000], [2048]),
            await client.allocate_sector([7], None),
            await client.allocate_sector(None, [32 << 30]),
        ]

    first, second, other_miner, other_size = with_client(tmp_path, body)
    assert (first.id, first.proof_type, first.sector_size) == (SectorId(1000, 1), 5, 2048)
    assert second.id == SectorId(1000, 2)
    assert other_miner is None and other_size is None


def test_deals_and_their_pieces_come_through_the_piece_store(tmp_path: Path) -> None:
    async def body(client: VenusClient, _: DevnetServer) -> list[tuple[Any, bytes]]:
        found = []
        while not found:  # some sectors are committed capacity: no deals
            sector = await client.allocate_sector(None, None)
            assert sector is not None
            deals = await client.acquire_deals(sector.id, None)
            assert deals == await client.acquire_deals(sector.id, None), "asking again gives the same deals"
            found = [(deal, await client.fetch_piece(deal.piece_cid)) for deal in deals]
        return found

    for deal, payload in with_client(tmp_path, body, piece_token="t"):
        assert commp_bytes(payload).cid == deal.piece_cid and len(payload) == deal.payload_size


def test_a_local_piece_directory_is_read_before_the_piece_store(tmp_path: Path) -> None:
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    (pieces / "bagaunknowntothemanager.car").write_bytes(b"local data")

    async def body(client: VenusClient, _: DevnetServer) -> tuple[bytes, str]:
        local = await client.fetch_piece("bagaunknowntothemanager")
        with pytest.raises(ManagerError) as missing:
            await client.fetch_piece("bagaunknowntoboth")
        return local, str(missing.value)

    local, missing = with_client(tmp_path, body, local_pieces_dirs=[tmp_path / "elsewhere", pieces])
    assert local == b"local data"
    assert "HTTP 404" in missing and "no deal has piece bagaunknowntoboth" in missing


def test_an_unknown_sector_is_sector_state_not_found(tmp_path: Path) -> None:
    async def body(client: VenusClient, _: DevnetServer) -> None:
        await client.assign_ticket(SectorId(1000, 99))

    with pytest.raises(SectorStateNotFound, match="sector state not found"):
        with_client(tmp_path, body)


def test_a_manager_side_abort_reaches_the_next_report(tmp_path: Path) -> None:
    async def body(client: VenusClient, _: DevnetServer) -> tuple[SectorStateReply, SectorStateReply]:
        sector = await client.allocate_sector(None, None)
        assert sector is not None
        report = StateReport("w1", "/t/0", "Empty", "Allocated", "Allocate")
        before = await client.report_state(sector.id, report)
        await client.report_aborted(sector.id, "aborted via CLI")
        return before, await client.report_state(sector.id, report)

    before, after = with_client(tmp_path, body)
    assert before == SectorStateReply(False) and after == SectorStateReply(True, "aborted via CLI")


def test_stores_pings_and_seeds(tmp_path: Path) -> None:
    ping = WorkerPing("w1", "127.0.0.1:17890", "0.1.0", ThreadSummary(2, 1, 0, 1, 0, 0))

    async def body(client: VenusClient, _: DevnetServer) -> tuple[Any, ...]:
        sector = await client.allocate_sector(None, None)
        assert sector is not None
        await client.worker_ping(ping)
        return (
            await client.reserve_space(sector.id, 4096, ["b"]),
            await client.store_info("a"),
            await client.store_info("nowhere"),
            await client.worker_pings(),
            await client.wait_seed(sector.id, proof_type=5),
        )

    reserved, known, unknown, pings, seed = with_client(tmp_path, body)
    assert reserved.name == "b" and reserved.path.endswith("store-b")
    assert known.name == "a" and unknown is None
    assert [record.ping for record in pings] == [ping]
    assert seed.seed is None and seed.should_wait is False  # nothing pre-committed yet


def test_wrong_params_are_method_errors_not_crashes(tmp_path: Path) -> None:
    async def body(_: VenusClient, server: DevnetServer) -> list[Any]:
        transport = RpcTransport(f"http://127.0.0.1:{server.port}/rpc/v0", retry_for=0)
        outcomes = []
        for method, params in [
            ("Venus.AssignTicket", []),
            ("Venus.AssignTicket", [{"Miner": 1000, "Number": 1}, 2]),
            ("Venus.AssignTicket", [{"Miner": "x", "Number": 1}]),
            ("Venus.WaitSeed", [{"Miner": 1000, "Number": 1}, 6]),
            ("Venus.NoSuchMethod", []),
        ]:
            try:
                await transport.call(method, *params)
            except ManagerError as error:
                outcomes.append(str(error))
        await transport.close()
        return outcomes

    missing, extra, wrong_type, wrong_proof, unknown = with_client(tmp_path, body)
    assert "missing parameter 'sector'" in missing and "(error -32602)" in missing
    assert "expected at most 1 parameters" in extra
    assert "SectorID.Miner: expected an unsigned integer" in wrong_type
    assert "unknown sector s-t01000-1" in wrong_proof or "seal proof type 6" in wrong_proof
    assert "method not found: Venus.NoSuchMethod" in unknown and "-32601" in unknown


def test_a_token_is_required_when_the_server_has_one(tmp_path: Path) -> None:
    async def body(client: VenusClient, server: DevnetServer) -> tuple[Any, str]:
        good = await client.allocate_sector(None, None)
        wrong = client_for(server.port, headers={"Authorization": "Bearer nope"})
        try:
            with pytest.raises(ManagerError) as refused:
                await wrong.allocate_sector(None, None)
        finally:
            await wrong.close()
        return good, str(refused.value)

    good, refused = with_client(tmp_path, body, server_token="s3cret", headers={"Authorization": "Bearer s3cret"})
    assert good is not None
    assert "refused our credentials (HTTP 401)" in refused and "rpc_client.headers" in refused


def test_an_unreachable_manager_is_retried_until_it_answers(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> Any:
        client = client_for(port, retry_for=60.0)
        call = asyncio.ensure_future(client.allocate_sector(None, None))
        await asyncio.sleep(0.3)  # a few refused attempts
        assert not call.done()
        async with devnet_server(tmp_path, port=port):
            result = await call
        await client.close()
        return result

    assert asyncio.run(main()).id == SectorId(1000, 1)


def test_an_unreachable_manager_becomes_a_manager_error_after_the_retry_window(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        client = client_for(port, retry_for=0.2)
        try:
            await client.allocate_sector(None, None)
        finally:
            await client.close()

    with pytest.raises(ManagerError, match=r"Venus.AllocateSector: .*Connect.*\(for 0.2s; will retry later\)"):
        asyncio.run(main())


def test_server_stats_time_every_method(tmp_path: Path) -> None:
    async def body(client: VenusClient, server: DevnetServer) -> Any:
        await client.allocate_sector(None, None)
        await client.allocate_sector(None, None)
        transport = RpcTransport(f"http://127.0.0.1:{server.port}/rpc/v0", retry_for=0)
        stats = await transport.call("SealerFsm.DevnetStats")
        await transport.close()
        return stats

    stats = with_client(tmp_path, body)
    assert stats["Venus.AllocateSector"]["calls"] == 2 and stats["Venus.AllocateSector"]["p99_ms"] >= 0
    json.dumps(stats)


def test_concurrent_allocations_from_many_clients_never_share_a_number(tmp_path: Path) -> None:
    async def body(_: VenusClient, server: DevnetServer) -> list[int]:
        clients = [client_for(server.port) for _ in range(5)]
        try:
            sectors = await asyncio.gather(
                *(client.allocate_sector(None, None) for client in clients for _ in range(40))
            )
        finally:
            await asyncio.gather(*(client.close() for client in clients))
        return [sector.id.number for sector in sectors if sector is not None]

    numbers = with_client(tmp_path, body)
    assert sorted(numbers) == list(range(1, 201))


def test_an_https_manager_is_reached_with_its_ca(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)

    async def main() -> Any:
        devnet = DevnetManager(devnet_config(block_time=0.01), tmp_path / "home", {})
        server = DevnetServer(DevnetService(devnet, __version__), None, ServerLimits())
        await server.start("127.0.0.1", 0, TlsFiles(cert, key))
        trusted = VenusClient(RpcTransport(f"https://127.0.0.1:{server.port}/rpc/v0", ca_file=str(cert)))
        untrusted = VenusClient(RpcTransport(f"https://127.0.0.1:{server.port}/rpc/v0", retry_for=60))
        try:
            allocated = await trusted.allocate_sector(None, None)
            with pytest.raises(ManagerError, match=r"TLS with the manager failed: .*certificate verify failed"):
                await untrusted.allocate_sector(None, None)
            return allocated
        finally:
            await trusted.close()
            await untrusted.close()
            await server.close()
            devnet.close()

    assert asyncio.run(main()).id == SectorId(1000, 1)


def test_a_local_piece_whose_commp_is_not_its_cid_is_never_sealed(tmp_path: Path) -> None:
    pieces = tmp_path / "pieces"
    pieces.mkdir()

    async def body(client: VenusClient, _: DevnetServer) -> tuple[Any, FakeContext]:
        deals: list[Any] = []
        while not deals:
            sector = await client.allocate_sector(None, None)
            assert sector is not None
            deals = await client.acquire_deals(sector.id, None)
        (pieces / deals[0].piece_cid).write_bytes(b"not the deal's data".ljust(deals[0].payload_size, b"!"))
        data = {**sector.task_data(), "deals": [deal.to_json() for deal in deals]}
        ctx = FakeContext(data, {"manager": client}, tmp_path / "thread")
        with pytest.raises(Permanent) as caught:
            await add_pieces(ctx)  # type: ignore[arg-type]
        return caught.value, ctx

    failure, ctx = with_client(tmp_path, body, local_pieces_dirs=[pieces])
    assert "does not match its piece" in str(failure)
    assert not (ctx.location / "data" / "unsealed" / ctx.data["sector_id"]).exists(), "nothing was staged"


def test_min_used_space_travels_as_acquire_deals_min_used_space(tmp_path: Path) -> None:
    def deals_of_six_sectors(home: Path, min_used_space: int | None) -> list[list[Any]]:
        async def body(client: VenusClient, _: DevnetServer) -> list[list[Any]]:
            answers = []
            for _ in range(6):
                sector = await client.allocate_sector(None, None)
                assert sector is not None
                answers.append(await client.acquire_deals(sector.id, None, min_used_space=min_used_space))
            return answers

        return with_client(home, body)

    # The same chain (same seed) twice: some sectors get deals; asked for a whole 2KiB sector of deals, which no
    # devnet deal fills, none does (the devnet gives no deals rather than fewer).
    assert any(deals_of_six_sectors(tmp_path / "any", None))
    assert deals_of_six_sectors(tmp_path / "full", 2048) == [[]] * 6

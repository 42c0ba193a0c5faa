"""The unseal plan's steps on a chain sealed for real: the piece decoded and its CommP checked before any upload,
the destinations served (file, store, HTTP PUT), and every failure path at its level; then, through a worker, a
CommP that differs and an HTTP server that refuses, until the operator acts."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import ChainClock, FakeContext, ManualClock, devnet_config
from aiohttp import web

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import ManagerError, SectorId, StoreInfo
from sealer_fsm.manager.devnet import DevnetManager, deal_payload
from sealer_fsm.proofs import commp_bytes, commp_file, unpadded_size
from sealer_fsm.runtime import Outcome, Permanent, Temporary, Worker
from sealer_fsm.steps import unseal
from sealer_fsm.steps._upload import shown, upload
from tests.support.sealed_chain import BLOCK_TIME, SEED, SealedChain, fresh_home, machine_for, seal_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> SealedChain:
    return seal_chain(tmp_path_factory.mktemp("sealed-chain"))


class Manager:
    """The devnet of a chain copy, recording what the steps ask of it (and failing where told)."""

    def __init__(self, devnet: DevnetManager, fail: str = "") -> None:
        self.devnet = devnet
        self.fail = fail
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.devnet, name)

        async def call(*args: Any) -> Any:
            self.calls.append(name)
            if name == self.fail:
                raise ManagerError(f"devnet: injected failure of {name}")
            return await method(*args)

        return call


class Story:
    """A copy of the chain, its devnet, and the unseal of one piece allocated to a fake context."""

    def __init__(self, tmp_path: Path, chain: SealedChain, upgraded: bool = False, dest: str | None = None) -> None:
        home = fresh_home(chain, tmp_path / "home")
        self.stores = {"a": home / "store-a", "b": home / "store-b"}
        self.devnet = DevnetManager(devnet_config(seed=SEED), home, self.stores, now=ManualClock().now)
        self.sector = SectorId.parse(chain.upgraded if upgraded else chain.dealt)
        self.deal = (chain.upgrade_deals if upgraded else chain.dealt_deals)[0]
        self.out = tmp_path / "out" / "piece"
        self.devnet.request_unseal(self.sector, self.deal["piece_cid"], dest or f"file://{self.out}")
        allocation = asyncio.run(self.devnet.allocate_unseal_sector(None, None))
        self.manager = Manager(self.devnet)
        self.ctx = FakeContext(
            allocation.task_data(), {"manager": self.manager, "stores": self.stores}, tmp_path / "thread"
        )

    def expected(self) -> bytes:
        payload = deal_payload(SEED, self.deal["deal_id"], self.deal["payload_size"])
        return payload.ljust(unpadded_size(self.deal["piece_size"]), b"\0")

    def unsealed(self) -> Outcome:
        outcome = asyncio.run(unseal.unseal_piece(self.ctx))
        assert isinstance(outcome, Outcome) and outcome.event == "UnsealDone"
        self.ctx.data.update(outcome.data)
        return outcome

    def close(self) -> None:
        self.devnet.close()


@pytest.fixture
def story(tmp_path: Path, chain: SealedChain) -> Story:
    made = Story(tmp_path, chain)
    yield made
    made.close()


@pytest.mark.parametrize("upgraded", [False, True])
def test_a_piece_comes_back_with_its_commp_checked(tmp_path: Path, chain: SealedChain, upgraded: bool) -> None:
    story = Story(tmp_path, chain, upgraded)
    try:
        outcome = story.unsealed()
        path = Path(outcome.data["unsealed"]["path"])
        assert path == story.ctx.location / "data" / "unsealed" / story.deal["piece_cid"]
        assert path.read_bytes() == story.expected()
        assert outcome.data["unsealed"]["bytes"] == unpadded_size(story.deal["piece_size"])
        assert not (story.ctx.location / "data" / "cache" / story.sector.name).exists(), "scratch layers removed"
        assert asyncio.run(unseal.upload_piece(story.ctx)) == Outcome("UploadPieceDone", {"uploaded": 1})
        assert commp_file(story.out).cid == story.deal["piece_cid"]
        assert story.manager.calls == ["acquire_unseal_dest", "achieve_unseal_sector"]
        view = next(view for view in story.devnet.sectors_view() if view["id"] == story.sector.name)
        assert view["unseals"][0]["status"] == "finished"
    finally:
        story.close()


def test_a_wrong_ticket_gives_another_commp_and_nothing_leaves(story: Story) -> None:
    story.ctx.data["ticket"] = {"value": "00" * 32, "epoch": 1}
    with pytest.raises(Permanent) as failure:
        asyncio.run(unseal.unseal_piece(story.ctx))
    message = str(failure.value)
    assert "the unsealed data has CommP baga" in message
    assert f"not the requested piece {story.deal['piece_cid']}; nothing was uploaded" in message
    assert not unseal.piece_file(story.ctx).exists()
    assert story.manager.calls == [], "no destination asked for"


def test_a_replica_sealed_with_a_simulated_pc2_is_refused(story: Story) -> None:
    for store in story.stores.values():
        (store / "cache" / story.sector.name / "t_aux").unlink(missing_ok=True)
    with pytest.raises(Permanent, match=r"was sealed with a simulated PC2 .*holds no encoding to unseal"):
        asyncio.run(unseal.unseal_piece(story.ctx))


def test_a_missing_replica_or_store_is_permanent(story: Story) -> None:
    (story.stores[story.ctx.data["access_instance"]] / "sealed" / story.sector.name).unlink()
    with pytest.raises(Permanent, match=r"the replica .* is missing"):
        asyncio.run(unseal.unseal_piece(story.ctx))
    story.ctx.data["access_instance"] = "elsewhere"
    with pytest.raises(Permanent, match="store 'elsewhere', which holds the sector, is not attached"):
        asyncio.run(unseal.unseal_piece(story.ctx))


@pytest.mark.parametrize("cid", ["../../etc/passwd", "", "baga/x"])
def test_a_piece_cid_that_is_not_one_is_permanent(story: Story, cid: str) -> None:
    story.ctx.data["unseal"] = {**story.ctx.data["unseal"], "piece_cid": cid}
    with pytest.raises(Permanent):
        asyncio.run(unseal.unseal_piece(story.ctx))


def test_an_unsealed_piece_gone_before_the_upload_is_permanent(story: Story) -> None:
    story.unsealed()
    unseal.piece_file(story.ctx).unlink()
    with pytest.raises(Permanent, match="is missing; resume the thread into Allocated"):
        asyncio.run(unseal.upload_piece(story.ctx))


def test_a_manager_that_cannot_be_reached_is_temporary(story: Story) -> None:
    story.unsealed()
    story.manager.fail = "acquire_unseal_dest"
    with pytest.raises(Temporary, match="AcquireUnsealDest: devnet: injected failure"):
        asyncio.run(unseal.upload_piece(story.ctx))
    assert not story.out.exists()


def test_abort_reports_the_unseal_failed_and_removes_the_files(story: Story) -> None:
    story.unsealed()
    story.ctx.entered_by = lambda: None
    asyncio.run(unseal.abort_unseal(story.ctx))
    assert not unseal.piece_file(story.ctx).exists()
    view = next(view for view in story.devnet.sectors_view() if view["id"] == story.sector.name)
    assert view["unseals"][0]["status"] == "failed"
    assert view["unseals"][0]["error"] == "aborted by worker thread 0"
    assert view["state"] == "finalized"


def test_finish_reports_finalized_and_removes_the_files(story: Story) -> None:
    story.unsealed()
    asyncio.run(unseal.upload_piece(story.ctx))
    asyncio.run(unseal.finish_unseal(story.ctx))
    assert story.manager.calls[-1] == "report_finalized"
    assert [p for p in (story.ctx.location / "data").rglob("*") if p.is_file()] == []
    assert story.out.is_file()


# -- destinations -------------------------------------------------------------------------------------------------


class StoreManager:
    """Knows the stores it is told of (StoreBasicInfo)."""

    def __init__(self, *known: str) -> None:
        self.known = known

    async def store_info(self, name: str) -> StoreInfo | None:
        return StoreInfo(name, f"/{name}") if name in self.known else None


def upload_context(tmp_path: Path, manager: Any = None) -> FakeContext:
    services = {"stores": {"a": tmp_path / "store-a"}, "readonly_stores": {"ro": tmp_path / "store-ro"}}
    return FakeContext({}, {"manager": manager or StoreManager("a", "ro"), **services}, tmp_path)


def test_file_and_store_destinations_get_a_copy(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"x" * 2032)
    ctx = upload_context(tmp_path)
    asyncio.run(upload(ctx, source, f"file://{tmp_path}/out/one"))
    asyncio.run(upload(ctx, source, "store://a/pieces/two"))
    assert (tmp_path / "out" / "one").read_bytes() == source.read_bytes()
    assert (tmp_path / "store-a" / "pieces" / "two").read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        ("ftp://host/x", "unsupported scheme 'ftp'"),
        ("market://store/cid?token=secret", "unsupported scheme 'market'"),
        ("file://otherhost/x", "a file URL names an absolute path on this host"),
        ("store://ro/x", "store 'ro' is read-only on this worker"),
        ("store://nowhere/x", "no writable store 'nowhere' is attached \\(a\\)"),
        ("store://a/../../escape", "must name a file inside store 'a'"),
        ("store://a/", "must name a file inside store 'a'"),
    ],
)
def test_a_destination_it_cannot_serve_is_permanent(tmp_path: Path, dest: str, message: str) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"x")
    with pytest.raises(Permanent, match=message) as failure:
        asyncio.run(upload(upload_context(tmp_path), source, dest))
    assert "secret" not in str(failure.value)
    assert not (tmp_path / "escape").exists()


def test_a_file_destination_under_a_file_is_permanent_and_named(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"x")
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(Permanent, match="File exists") as failure:
        asyncio.run(upload(upload_context(tmp_path), source, f"file://{tmp_path}/plain/piece"))
    assert f"{tmp_path}/plain/piece" in str(failure.value)


def test_a_store_the_manager_does_not_know_is_permanent(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"x")
    with pytest.raises(Permanent, match="does not know store 'a', the unseal destination"):
        asyncio.run(upload(upload_context(tmp_path, StoreManager()), source, "store://a/x"))
    assert not (tmp_path / "store-a" / "x").exists()


def test_shown_hides_passwords_and_queries() -> None:
    assert shown("https://user:secret@host:8443/put?token=abc") == "https://user@host:8443/put"
    assert shown("file:///tmp/x") == "file:///tmp/x"


class PutServer:
    """An HTTP server on 127.0.0.1 answering PUTs with `status`, keeping what it received."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: dict[str, bytes] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if 200 <= self.status < 300:
            self.received[request.path] = body
        return web.Response(status=self.status, text="" if self.status < 300 else "disk full on the far side")

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_put("/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def test_an_http_destination_gets_a_put_and_a_refusal_is_temporary(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(bytes(range(256)) * 8)
    ctx = upload_context(tmp_path)

    async def exchange() -> tuple[dict[str, bytes], str]:
        server = PutServer()
        await server.start()
        try:
            await upload(ctx, source, f"http://127.0.0.1:{server.port}/ok")
            server.status = 507
            try:
                await upload(ctx, source, f"http://user:pw@127.0.0.1:{server.port}/full?token=t")
            except Temporary as error:
                return server.received, str(error)
            raise AssertionError("a 507 reply was taken for a success")
        finally:
            await server.stop()

    received, message = asyncio.run(exchange())
    assert received == {"/ok": source.read_bytes()}
    assert "HTTP 507 Insufficient Storage: disk full on the far side" in message
    assert "pw" not in message and "token" not in message


def test_an_unreachable_http_destination_is_temporary(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"x")
    with pytest.raises(Temporary, match=re.escape("upload of piece to http://127.0.0.1:9/x")):
        asyncio.run(upload(upload_context(tmp_path), source, "http://127.0.0.1:9/x"))


# -- through a worker ---------------------------------------------------------------------------------------------


def unseal_request(devnet: Any, sector: str) -> dict[str, Any]:
    return next(view for view in devnet.sectors_view() if view["id"] == sector)["unseals"][0]


def unseal_worker(tmp_path: Path, chain: SealedChain, sealing: str = "", extra: str = "") -> Worker:
    home = fresh_home(chain, tmp_path / "home")
    machine = machine_for(tmp_path / "m", ["unseal"], sealing=sealing, extra=extra)
    return build_worker(load_machine_file(machine, home), clock=ChainClock(BLOCK_TIME))


def test_a_refusing_http_server_pauses_the_thread_until_the_operator_resumes_it(
    tmp_path: Path, chain: SealedChain
) -> None:
    worker = unseal_worker(tmp_path, chain, "max_retries = 2")
    devnet = worker.services.manager
    piece = chain.dealt_deals[0]
    server = PutServer(status=500)

    async def story() -> str:
        await server.start()
        dest = f"http://127.0.0.1:{server.port}/piece"
        devnet.request_unseal(SectorId.parse(chain.dealt), piece["piece_cid"], dest)
        runner = asyncio.ensure_future(worker.run())
        try:
            while not worker.thread(0).paused:
                await asyncio.sleep(0.01)
            info = worker.thread(0)
            assert info.state == "Unsealed"
            assert "HTTP 500 Internal Server Error" in info.last_error and "gave up after 2 retries" in info.last_error
            server.status = 201  # the far side is fixed
            worker.resume(0)
            while worker.store.task(info.task_id).state != "Finished":
                await asyncio.sleep(0.01)
            return str(unseal_request(devnet, chain.dealt)["status"])
        finally:
            worker.drain()
            await runner
            await server.stop()

    try:
        status = asyncio.run(asyncio.wait_for(story(), 60))
    finally:
        worker.close()
    assert status == "finished"
    assert commp_bytes(server.received["/piece"]).cid == piece["piece_cid"]


def test_a_commp_that_differs_pauses_the_thread_and_its_abort_fails_the_unseal(
    tmp_path: Path, chain: SealedChain
) -> None:
    worker = unseal_worker(tmp_path, chain)
    devnet = worker.services.manager
    piece = chain.dealt_deals[0]
    out = tmp_path / "out" / "piece"
    devnet.request_unseal(SectorId.parse(chain.dealt), piece["piece_cid"], f"file://{out}")
    devnet.db.update_sector(SectorId.parse(chain.dealt).number, ticket="00" * 32)  # not the sealing's ticket

    async def story() -> dict[str, Any]:
        runner = asyncio.ensure_future(worker.run())
        try:
            while not worker.thread(0).paused:
                await asyncio.sleep(0.01)
            info = worker.thread(0)
            assert info.state == "Allocated"
            assert f"not the requested piece {piece['piece_cid']}; nothing was uploaded" in info.last_error
            worker.resume(0, "Abort", reason="the chain's ticket is wrong")
            while (request := unseal_request(devnet, chain.dealt))["status"] == "unsealing":  # until Abort's step ran
                await asyncio.sleep(0.01)
            return request
        finally:
            worker.drain()
            await runner

    try:
        request = asyncio.run(asyncio.wait_for(story(), 60))
    finally:
        worker.close()
    assert request["status"] == "failed" and "the chain's ticket is wrong" in request["error"]
    assert not out.exists()
    assert [p for p in (tmp_path / "home" / "t0" / "data").rglob("*") if p.is_file()] == []


def test_an_external_unseal_processor_does_the_decoding(
    tmp_path: Path, chain: SealedChain, caplog: pytest.LogCaptureFixture
) -> None:
    """The reference's unseal task crosses the processors protocol to a child (`sealer-fsm processor unseal`)."""
    worker = unseal_worker(tmp_path, chain, extra="[[processors.unseal]]\n")
    piece = chain.dealt_deals[-1]
    out = tmp_path / "out" / "piece"
    worker.services.manager.request_unseal(SectorId.parse(chain.dealt), piece["piece_cid"], f"file://{out}")

    async def story() -> None:
        runner = asyncio.ensure_future(worker.run())
        try:
            while not out.exists() and not worker.thread(0).paused:
                await asyncio.sleep(0.01)
        finally:
            worker.drain()
            await runner

    with caplog.at_level(logging.INFO, logger="sealer_fsm.thread.0"):
        try:
            asyncio.run(asyncio.wait_for(story(), 60))
        finally:
            worker.close()
    assert not worker.thread(0).paused, worker.thread(0).last_error
    assert commp_file(out).cid == piece["piece_cid"]
    assert "unsealed by ext(pid: " in caplog.text, "a child did it, not the worker itself"

"""`sealer-fsm devnet serve|workers|abort` as an operator uses them: refusals in one line, tokens, one server
per devnet home, and a sector dropped on the manager's side."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sealer_fsm.cli import main
from sealer_fsm.manager import SectorStateReply, StateReport
from sealer_fsm.manager.venus import RpcTransport, VenusClient
from tests.support.cluster import DevnetProcess, free_port, write_manager_file, write_worker_file


@pytest.fixture
def devnet(tmp_path: Path):
    port = free_port()
    server = DevnetProcess(write_manager_file(tmp_path, port), tmp_path / "manager", port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("sealer-fsm: "), error
    return error


def test_serving_beyond_loopback_needs_a_token(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SEALER_FSM_DEVNET_TOKEN", raising=False)
    manager = write_manager_file(tmp_path, free_port())
    assert main(["devnet", "serve", "-c", str(manager), "--home", str(tmp_path / "m"), "--listen", "0.0.0.0:0"]) == 1
    assert "beyond loopback, without a token: set [devnet_server] token" in one_line_error(capsys)


def test_one_server_per_devnet_home(devnet: DevnetProcess, capsys) -> None:
    assert main(["devnet", "serve", "-c", str(devnet.manager_file), "--home", str(devnet.home), "--listen", ":0"]) == 1
    assert devnet.process is not None
    assert f"another devnet server (pid {devnet.process.pid}) serves home {devnet.home}" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text + '[sector_manager]\nrpc_client.addr = "/ip4/1.2.3.4/tcp/1"\n',
         "is not a devnet (kind = 'rpc')"),
        (lambda text: text.replace("listen = ", "lisen = "), "unknown key 'lisen' (did you mean 'listen'?)"),
        (lambda text: text.replace('sector_size = "2KiB"', 'sector_size = "4KiB"'), "has no seal proof type"),
    ],
)  # fmt: skip
def test_bad_manager_files_are_refused_in_one_line(tmp_path: Path, capsys, edit, message: str) -> None:
    manager = write_manager_file(tmp_path, free_port())
    manager.write_text(edit(manager.read_text()))
    assert main(["devnet", "serve", "-c", str(manager), "--home", str(tmp_path / "m")]) == 1
    assert message in one_line_error(capsys)


def test_workers_of_a_manager_that_is_not_there_is_one_line(capsys) -> None:
    assert main(["devnet", "workers", "--host", f"127.0.0.1:{free_port()}"]) == 1
    assert "Venus.WorkerPingInfoList" in one_line_error(capsys)


def test_a_token_server_refuses_clients_without_it(tmp_path: Path, capsys, monkeypatch) -> None:
    port = free_port()
    manager = write_manager_file(tmp_path, port)
    manager.write_text(manager.read_text() + 'token = "s3cret"\n')
    server = DevnetProcess(manager, tmp_path / "manager", port)
    server.start()
    try:
        monkeypatch.delenv("SEALER_FSM_DEVNET_TOKEN", raising=False)
        assert main(["devnet", "workers", "--host", server.address]) == 1
        assert "refused our credentials (HTTP 401)" in one_line_error(capsys)
        monkeypatch.setenv("SEALER_FSM_DEVNET_TOKEN", "s3cret")
        assert main(["devnet", "workers", "--host", server.address, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
    finally:
        server.stop()


def test_abort_drops_a_sector_on_the_manager_and_its_next_report_says_so(devnet: DevnetProcess, capsys) -> None:
    report = StateReport("w", "/t", "Empty", "Allocated", "Allocate")

    async def ask(request) -> Any:
        client = VenusClient(RpcTransport(f"http://{devnet.address}/rpc/v0", retry_for=0))
        try:
            return await request(client)
        finally:
            await client.close()

    sector = asyncio.run(ask(lambda client: client.allocate_sector(None, None))).id
    assert asyncio.run(ask(lambda client: client.report_state(sector, report))) == SectorStateReply(False)
    assert main(["devnet", "abort", sector.name, "--host", devnet.address, "--reason", "bad deal"]) == 0
    assert "aborted on the manager (bad deal)" in capsys.readouterr().out
    row = next(row for row in devnet.sectors() if row["number"] == sector.number)
    assert (row["status"], row["abort_reason"]) == ("aborted", "bad deal")
    assert asyncio.run(ask(lambda client: client.report_state(sector, report))) == SectorStateReply(True, "bad deal")
    assert main(["devnet", "abort", "sector-7", "--host", devnet.address]) == 1
    assert "'sector-7' is not a sector name like s-t01000-5" in one_line_error(capsys)


def test_serve_exits_0_on_sigterm(devnet: DevnetProcess) -> None:
    assert devnet.stop() == 0


def test_a_worker_whose_store_the_manager_does_not_know_refuses_to_start(devnet: DevnetProcess, capsys) -> None:
    machine = write_worker_file(devnet.home.parent, "w1", devnet.port)
    machine.write_text(machine.read_text().replace('name = "store-b"', 'name = "store-z"'))
    home = devnet.home.parent / "w1"
    assert main(["run", "-c", str(machine), "--home", str(home), "--listen", "127.0.0.1:0"]) == 1
    error = one_line_error(capsys)
    assert f"store 'store-z' is not known to the sector manager at http://{devnet.address}/rpc/v0" in error

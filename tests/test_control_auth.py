"""Who may talk to the control server: a token beyond loopback, HTTP 401 without the right one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sealer_fsm.control import (
    AddressError,
    ControlClient,
    ControlClientError,
    ControlServerError,
    is_loopback,
    parse_address,
    resolve_token,
    start_control_server,
)
from tests.harness import build_worker, registry_for, stop_here
from tests.support.raw_http import post
from tests.support.running_worker import worker_process
from tests.support.tls import self_signed_certificate


@pytest.fixture(autouse=True)
def no_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEALER_FSM_TOKEN", raising=False)


def test_a_server_beyond_loopback_refuses_to_start_without_a_token(machine_file, tmp_path: Path) -> None:
    worker = build_worker(machine_file(["sealer"]), tmp_path / "home", registry_for(stop_here))
    with pytest.raises(ControlServerError, match=r"0\.0\.0\.0, beyond loopback, without a token"):
        asyncio.run(start_control_server(worker, "0.0.0.0", 0))


def test_a_server_beyond_loopback_starts_with_a_token(machine_file, tmp_path: Path) -> None:
    worker = build_worker(machine_file(["sealer"]), tmp_path / "home", registry_for(stop_here))

    async def start_and_close() -> bool:
        server = await start_control_server(worker, "0.0.0.0", 0, token="s3cret")
        await server.close()
        return server.requires_token

    assert asyncio.run(start_and_close()) is True


def test_the_machine_file_token_is_enforced_and_the_environment_overrides_it(
    machine_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = machine_file(["sealer"], extra='[worker.rpc_server]\ntoken = "from-file"\n')
    worker = build_worker(path, tmp_path / "home", registry_for(stop_here))

    async def call_with(token: str | None) -> str:
        server = await start_control_server(worker, "127.0.0.1", 0)
        try:
            client = ControlClient(f"127.0.0.1:{server.port}", token=token)
            return await asyncio.to_thread(client.call, "VenusWorker.WorkerVersion")
        finally:
            await server.close()

    assert asyncio.run(call_with("from-file"))
    with pytest.raises(ControlClientError, match="HTTP 401"):
        asyncio.run(call_with(None))
    monkeypatch.setenv("SEALER_FSM_TOKEN", "from-env")
    assert resolve_token("from-file") == "from-env"
    assert asyncio.run(call_with("from-env"))


def test_requests_without_the_right_token_get_401(tmp_path: Path) -> None:
    with worker_process(tmp_path / "worker", "--threads", "1", token="s3cret") as worker:
        with pytest.raises(ControlClientError, match=r"refused the request \(HTTP 401\): set SEALER_FSM_TOKEN"):
            ControlClient(worker.address).call("VenusWorker.WorkerList")
        with pytest.raises(ControlClientError, match="HTTP 401"):
            ControlClient(worker.address, token="s3cret-not").call("VenusWorker.WorkerList")
        status, _ = post(worker.port, b"{}", {"Authorization": "Basic s3cret"})
        assert status == 401
        assert post(worker.port, b"", path="/metrics")[0] == 401
        assert len(worker.client().call("VenusWorker.WorkerList")) == 1


def test_without_a_token_on_loopback_no_authorization_is_needed(tmp_path: Path) -> None:
    with worker_process(tmp_path / "worker", "--threads", "1") as worker:
        assert len(ControlClient(worker.address).call("VenusWorker.WorkerList")) == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("", False), ("192.168.1.10", False), ("::", False), ("worker.example", False)],
)  # fmt: skip
def test_only_loopback_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_addresses_parse_as_host_and_port() -> None:
    assert parse_address("127.0.0.1:17890") == ("127.0.0.1", 17890)
    assert parse_address("[::1]:80") == ("::1", 80)
    assert parse_address(":9") == ("127.0.0.1", 9)
    for bad in ("localhost", "host:port", "host:70000"):
        with pytest.raises(AddressError, match="address"):
            parse_address(bad)


def test_a_worker_with_a_certificate_serves_https_to_clients_that_trust_it(machine_file, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    tls = f'[worker.rpc_server]\ntoken = "t"\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
    worker = build_worker(machine_file(["sealer"], extra=tls), tmp_path / "home", registry_for(stop_here))

    async def call_over(address: str, ca_file: str | None) -> object:
        server = await start_control_server(worker, "127.0.0.1", 0)
        try:
            client = ControlClient(address.format(port=server.port), token="t", ca_file=ca_file)
            return await asyncio.to_thread(client.call, "VenusWorker.WorkerVersion")
        finally:
            await server.close()

    assert asyncio.run(call_over("https://127.0.0.1:{port}", str(cert)))
    with pytest.raises(ControlClientError, match=r"has a certificate we do not trust .*: set SEALER_FSM_CA"):
        asyncio.run(call_over("https://127.0.0.1:{port}", None))
    with pytest.raises(ControlClientError, match=r"closed the connection|cannot reach"):
        asyncio.run(call_over("127.0.0.1:{port}", None))


def test_a_certificate_without_its_key_is_refused_in_one_line(machine_file, tmp_path: Path) -> None:
    from sealer_fsm.config import ConfigError, load_machine_file

    path = machine_file(["sealer"], extra='[worker.rpc_server]\ntls_cert = "cert.pem"\n')
    with pytest.raises(ConfigError, match=r"\[worker.rpc_server\] tls_key: tls_cert is set, so tls_key is needed"):
        load_machine_file(path, tmp_path / "home")

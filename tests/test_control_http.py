"""What our HTTP servers promise, on the aiohttp server both of them use: token, body and batch limits, strict
request parsing, keep-alive, the connection cap, idle connections and TLS. A spy method tells whether a request
reached the JSON-RPC layer at all."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.rpc import (
    RESPONSE_TOO_LARGE,
    Dispatcher,
    Method,
    Param,
    RpcHttpServer,
    ServerLimits,
    ServerStartError,
    TlsFiles,
)
from tests.support.raw_http import raw_exchange
from tests.support.tls import self_signed_certificate

T = TypeVar("T")


class Spy:
    """The one method of the test server: counts its calls, answers `size` bytes of text."""

    def __init__(self) -> None:
        self.calls = 0

    def echo(self, size: int = 1) -> str:
        self.calls += 1
        return "x" * size


@asynccontextmanager
async def serving(
    spy: Spy, *, token: str | None = None, tls: TlsFiles | None = None, **limits: Any
) -> AsyncIterator[RpcHttpServer]:
    batch = {key: limits.pop(key) for key in ("max_batch", "max_response_bytes") if key in limits}
    dispatcher = Dispatcher({"Test.Echo": Method(spy.echo, (Param("size", int, default=1),))}, **batch)
    server = RpcHttpServer(dispatcher, token=token, limits=ServerLimits(**limits))
    await server.start("127.0.0.1", 0, tls)
    try:
        yield server
    finally:
        await server.close()


def run_with_server(spy: Spy, body: Callable[[RpcHttpServer], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        async with serving(spy, **options) as server:
            return await body(server)

    return asyncio.run(main())


def post(port: int, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/", body, headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def echo_request(request_id: int = 1, size: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "Test.Echo", "params": [size]}


# -- bodies and request parsing -----------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_with_413_before_it_is_read() -> None:
    spy = Spy()

    async def body(server: RpcHttpServer) -> tuple[bytes, int]:
        head = b"POST / HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n"
        refused = await asyncio.to_thread(raw_exchange, server.port, head + b"[1,", end_input=False)
        status, _ = await asyncio.to_thread(post, server.port, json.dumps(echo_request()).encode())
        return refused, status

    refused, status = run_with_server(spy, body)
    assert refused.startswith(b"HTTP/1.1 413 ") and b"request body over 1048576 bytes" in refused
    assert status == 200 and spy.calls == 1  # only the second request reached the method


def test_a_chunked_body_over_the_limit_is_refused_with_413() -> None:
    spy = Spy()
    chunk = b"x" * 4096
    data = b"POST / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"

    async def body(server: RpcHttpServer) -> bytes:
        return await asyncio.to_thread(raw_exchange, server.port, data, end_input=False)

    assert run_with_server(spy, body, max_body=16 * 1024).startswith(b"HTTP/1.1 413 ")
    assert spy.calls == 0


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: \xc2\xb2\r\n\r\n",  # superscript two passes str.isdigit()
        b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"NONSENSE\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: w\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: w\r\nBad Header\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",  # HTTP/1.1 without Host
    ],
)
def test_malformed_requests_get_400_and_never_reach_a_method(head: bytes) -> None:
    spy = Spy()

    async def body(server: RpcHttpServer) -> tuple[bytes, int]:
        refused = await asyncio.to_thread(raw_exchange, server.port, head, end_input=False)
        status, _ = await asyncio.to_thread(post, server.port, json.dumps(echo_request()).encode())
        return refused, status

    refused, status = run_with_server(spy, body)
    assert refused.split(b"\r\n", 1)[0].split(b" ")[1] == b"400"
    assert status == 200 and spy.calls == 1


@settings(max_examples=40, deadline=None)
@given(length=st.text(min_size=1, max_size=6).filter(lambda text: not text.isascii() or not text.isdigit()))
def test_a_content_length_that_is_not_ascii_digits_never_reaches_a_method(length: str) -> None:
    spy = Spy()
    head = b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: " + length.strip().encode() + b"\r\n\r\n{}"

    async def body(server: RpcHttpServer) -> bytes:
        return await asyncio.to_thread(raw_exchange, server.port, head, end_input=False)

    answer = run_with_server(spy, body)
    assert answer.split(b" ", 2)[1] == b"400" and spy.calls == 0


def test_a_truncated_body_is_dropped_without_a_call() -> None:
    spy = Spy()

    async def body(server: RpcHttpServer) -> bytes:
        truncated = b"POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 10\r\n\r\n{"
        return await asyncio.to_thread(raw_exchange, server.port, truncated)

    assert run_with_server(spy, body) == b"" and spy.calls == 0


def test_wrong_paths_and_methods_are_404_and_405() -> None:
    async def body(server: RpcHttpServer) -> tuple[bytes, bytes]:
        request = b"POST /nowhere HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        missing = await asyncio.to_thread(raw_exchange, server.port, request, end_input=False)
        wrong_method = await asyncio.to_thread(raw_exchange, server.port, b"GET / HTTP/1.0\r\n\r\n", end_input=False)
        return missing, wrong_method

    missing, wrong_method = run_with_server(Spy(), body)
    assert missing.startswith(b"HTTP/1.1 404 ") and wrong_method.split(b" ", 2)[1] == b"405"


# -- token --------------------------------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_401_and_the_right_one_passes() -> None:
    spy = Spy()
    request = json.dumps(echo_request()).encode()

    async def body(server: RpcHttpServer) -> list[int]:
        statuses = []
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            statuses.append((await asyncio.to_thread(post, server.port, request, headers))[0])
        statuses.append((await asyncio.to_thread(post, server.port, request, {"Authorization": "Bearer s3cret"}))[0])
        return statuses

    assert run_with_server(spy, body, token="s3cret") == [401, 401, 401, 200]
    assert spy.calls == 1


# -- keep-alive, idle connections and the connection cap ----------------------------------------------------


def test_one_connection_carries_many_requests() -> None:
    def exchange(port: int) -> set[int]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        sockets = set()
        for index in range(10):
            connection.request("POST", "/", json.dumps(echo_request(index)).encode())
            assert json.loads(connection.getresponse().read())["result"] == "x"
            assert connection.sock is not None
            sockets.add(id(connection.sock))
        connection.close()
        return sockets

    spy = Spy()

    async def body(server: RpcHttpServer) -> set[int]:
        return await asyncio.to_thread(exchange, server.port)

    assert len(run_with_server(spy, body)) == 1 and spy.calls == 10


def test_a_connection_that_never_sends_a_request_is_closed_after_the_idle_timeout() -> None:
    def idle(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            return sock.recv(100)  # returns b"" once the server closes; times out (fails) otherwise

    async def body(server: RpcHttpServer) -> bytes:
        return await asyncio.to_thread(idle, server.port)

    assert run_with_server(Spy(), body, idle_timeout=0.05) == b""


def test_connections_past_the_cap_are_refused_with_503_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    spy = Spy()

    async def body(server: RpcHttpServer) -> tuple[list[bytes], int]:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(4)]
        await asyncio.sleep(0)
        refused = [await asyncio.to_thread(raw_exchange, server.port, b"", end_input=False) for _ in range(20)]
        for _, writer in held:
            writer.close()
            await writer.wait_closed()
        status = 0
        for _ in range(200):  # the server notices the closed connections on its next loop turns
            status, _ = await asyncio.to_thread(post, server.port, json.dumps(echo_request()).encode())
            if status == 200:
                break
        return refused, status

    with caplog.at_level(logging.WARNING, logger="sealer_fsm.rpc"):
        refused, status = run_with_server(spy, body, max_connections=4)
    assert all(answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for answer in refused)
    assert status == 200 and spy.calls == 1
    lines = [record for record in caplog.records if "beyond the cap of 4" in record.getMessage()]
    assert len(lines) == 1


# -- batches ------------------------------------------------------------------------------------------------


def test_a_batch_over_the_limit_is_one_error_and_runs_nothing() -> None:
    spy = Spy()
    batch = json.dumps([echo_request(index) for index in range(11)]).encode()

    async def body(server: RpcHttpServer) -> tuple[int, bytes]:
        return await asyncio.to_thread(post, server.port, batch)

    status, answer = run_with_server(spy, body, max_batch=10)
    error = json.loads(answer)
    assert status == 200 and error["id"] is None and error["error"]["code"] == -32600
    assert error["error"]["message"] == "a batch of 11 requests is over the limit of 10; nothing was run"
    assert spy.calls == 0


def test_a_batch_whose_answers_outgrow_the_budget_stops_running_and_says_why() -> None:
    spy = Spy()
    batch = json.dumps([echo_request(index, size=400) for index in range(10)]).encode()

    async def body(server: RpcHttpServer) -> tuple[int, bytes]:
        return await asyncio.to_thread(post, server.port, batch)

    status, answer = run_with_server(spy, body, max_response_bytes=2000)
    answers = json.loads(answer)
    assert status == 200 and len(answer) <= 2000 + 200 * 10
    assert [item["id"] for item in answers] == list(range(10))
    served = [item for item in answers if "result" in item]
    refused = [item for item in answers if "error" in item]
    assert len(served) == 4 and all(item["error"]["code"] == RESPONSE_TOO_LARGE for item in refused)
    assert spy.calls == 5  # the fifth ran and overflowed; the rest never ran


def test_a_single_answer_over_the_budget_is_an_error() -> None:
    async def body(server: RpcHttpServer) -> tuple[int, bytes]:
        return await asyncio.to_thread(post, server.port, json.dumps(echo_request(7, size=5000)).encode())

    status, answer = run_with_server(Spy(), body, max_response_bytes=1000)
    assert status == 200 and json.loads(answer)["error"]["code"] == RESPONSE_TOO_LARGE


# -- TLS ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return TlsFiles(*self_signed_certificate(tmp_path_factory.mktemp("tls")))


def test_with_tls_the_server_speaks_https_only(certificate: TlsFiles) -> None:
    spy = Spy()

    def over_https(port: int) -> Any:
        context = ssl.create_default_context(cafile=str(certificate.cert))
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
        connection.request("POST", "/", json.dumps(echo_request()).encode(), {"Authorization": "Bearer t"})
        return json.loads(connection.getresponse().read())["result"]

    async def body(server: RpcHttpServer) -> tuple[Any, bytes]:
        answer = await asyncio.to_thread(over_https, server.port)
        request = b"POST / HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        plain = await asyncio.to_thread(raw_exchange, server.port, request, end_input=False)
        return answer, plain

    answer, plain = run_with_server(spy, body, token="t", tls=certificate)
    assert answer == "x" and spy.calls == 1
    assert not plain.startswith(b"HTTP/1.1 200")


def test_unreadable_tls_files_are_one_sentence(tmp_path: Path) -> None:
    tls = TlsFiles(tmp_path / "missing.pem", tmp_path / "missing.key")

    async def start() -> None:
        async with serving(Spy(), tls=tls):
            pass

    with pytest.raises(ServerStartError, match=r"cannot load TLS certificate .*missing\.pem"):
        asyncio.run(start())

"""A small HTTP/1.1 server on asyncio streams: just enough for JSON-RPC POSTs and a Prometheus scrape.

Why not http.server: it is thread-based, and everything the control server touches (the Worker) must be called
from the event loop thread. This one reads `Content-Length` bodies only (no chunked uploads), keeps connections
alive as HTTP/1.1 says, refuses oversized heads and bodies before reading them, and turns any fault of one
request into a response or a closed connection, never into a server crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus

log = logging.getLogger("sealer_fsm.control")

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
IDLE_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    version: str
    headers: dict[str, str]  # names in lower case
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def text_response(status: HTTPStatus, message: str | None = None) -> HttpResponse:
    """A plain-text response whose body is one line, e.g. for 401, 404, 413."""
    body = f"{message or status.phrase}\n".encode()
    return HttpResponse(int(status), body, "text/plain; charset=utf-8")


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class _Refused(Exception):
    """A request refused before it reached the handler; the connection is closed after the response."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.response = text_response(status, message)


class HttpServer:
    def __init__(self, handler: Handler, *, max_body: int = MAX_BODY_BYTES) -> None:
        self._handler = handler
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve_connection, host, port, limit=MAX_HEAD_BYTES)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop listening and drop open connections (keep-alive clients would otherwise hold them forever)."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or stalled; nothing to answer
        except asyncio.CancelledError:
            # close() cancelled this connection. Ending normally matters: on Python 3.11 the stream protocol's
            # done-callback calls task.exception() and logs a traceback for a task that ends cancelled.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; returns whether the connection stays open for another."""
        try:
            request = await self._read_request(reader)
        except _Refused as refused:
            await _send(writer, refused.response, keep_alive=False)
            return False
        if request is None:
            return False
        keep_alive = _wants_keep_alive(request)
        try:
            response = await self._handler(request)
        except Exception:  # a bug in one handler must not take the server down
            log.exception("control request %s %s failed", request.method, request.path)
            response = text_response(HTTPStatus.INTERNAL_SERVER_ERROR)
        await _send(writer, response, keep_alive=keep_alive)
        return keep_alive

    async def _read_request(self, reader: asyncio.StreamReader) -> HttpRequest | None:
        """The next request on the connection, None at a clean end of stream; _Refused for a bad one."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_SECONDS)
        except asyncio.IncompleteReadError as error:
            if error.partial.strip():
                raise _Refused(HTTPStatus.BAD_REQUEST, "incomplete request head") from error
            return None
        except asyncio.LimitOverrunError as error:
            raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large") from error
        method, path, version, headers = _parse_head(head)
        if "transfer-encoding" in headers:
            raise _Refused(HTTPStatus.NOT_IMPLEMENTED, "only Content-Length bodies are accepted")
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _Refused(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        length = int(length_text)
        if length > self._max_body:
            raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {self._max_body} bytes")
        body = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT_SECONDS) if length else b""
        return HttpRequest(method, path, version, headers, body)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError as error:
        raise _Refused(HTTPStatus.BAD_REQUEST, "malformed request line") from error
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise _Refused(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"unsupported protocol {version!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _Refused(HTTPStatus.BAD_REQUEST, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    return method, target.split("?", 1)[0], version, headers


def _wants_keep_alive(request: HttpRequest) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


async def _send(writer: asyncio.StreamWriter, response: HttpResponse, *, keep_alive: bool) -> None:
    status = HTTPStatus(response.status)
    headers = {"Connection": "keep-alive" if keep_alive else "close", **response.headers}
    if status is not HTTPStatus.NO_CONTENT:  # a 204 carries neither a body nor its length
        headers.update({"Content-Type": response.content_type, "Content-Length": str(len(response.body))})
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(head.encode("latin-1") + b"\r\n" + response.body)
    await writer.drain()

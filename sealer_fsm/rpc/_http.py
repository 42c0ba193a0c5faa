"""JSON-RPC over HTTP on aiohttp: the one server behind the control RPC and `devnet serve`.

aiohttp does the HTTP (strict request parsing, keep-alive, chunked bodies, TLS); this module adds what both of
our servers promise on top of it:

- a bearer token, when one is configured, on every path (401 otherwise, compared in constant time);
- a body limit: a declared body over `max_body` is refused with 413 before it is read;
- a connection cap: past `max_connections` open connections, a new one is answered 503 and closed at once, so
  that idle or slow clients can never take the file descriptors the sealing threads need (the default stays
  well under the process's descriptor limit), and the refusals are logged at most once per interval;
- idle connections are closed after `idle_timeout`, including ones that never send a request;
- optional TLS (`TlsFiles`), since a token over plain HTTP is readable on the wire.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import resource
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from sealer_fsm.rpc._address import format_address
from sealer_fsm.rpc._jsonrpc import Dispatcher

log = logging.getLogger("sealer_fsm.rpc")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 128
DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0
REFUSAL_LOG_INTERVAL_SECONDS = 10.0
# A cap never takes more than this share of the process's descriptor limit: the rest is the sealing threads'.
_MAX_SHARE_OF_FD_LIMIT = 4

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerStartError(Exception):
    """The server cannot start as configured (address in use, unreadable TLS files); one sentence."""


@dataclass(frozen=True)
class ServerLimits:
    max_body: int = DEFAULT_MAX_BODY_BYTES
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate (chain) and its private key; the server then speaks HTTPS only."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
            raise ServerStartError(f"cannot load TLS certificate {self.cert} and key {self.key}: {reason}") from error
        return context


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


@dataclass
class _RefusalLog:
    """Counts refused connections and says so at most once per interval, never once per connection."""

    cap: int
    interval: float = REFUSAL_LOG_INTERVAL_SECONDS
    refused: int = 0
    _last: float = field(default=-1e18)

    def refuse(self) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            log.warning(
                "refusing connections beyond the cap of %d open connections (%d refused so far)",
                self.cap,
                self.refused,
            )
            self._last = now


_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry\r\n\r\n"
)


class _Refusal(asyncio.Protocol):
    """A connection over the cap: answered 503 and closed, so it holds its descriptor for no time at all."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSAL)
        transport.close()


class _CappedSite(web.BaseSite):
    """A TCP site that hands connections past the cap to `_Refusal` instead of aiohttp's request handler."""

    __slots__ = ("_bound_port", "_cap", "_host", "_port", "_refusals")

    def __init__(self, runner: web.AppRunner, host: str, port: int, cap: int, ssl_context: ssl.SSLContext | None):
        super().__init__(runner, ssl_context=ssl_context, backlog=512)
        self._host, self._port, self._cap = host, port, cap
        self._refusals = _RefusalLog(cap)
        self._bound_port = port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{format_address(self._host, self._bound_port)}"

    @property
    def port(self) -> int:
        return self._bound_port

    def _protocol(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self._cap:
            self._refusals.refuse()
            return _Refusal()
        return server()

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self._host, self._port, ssl=self._ssl_context, backlog=self._backlog, reuse_address=True
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to a quarter of this process's soft descriptor limit when that is smaller."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // _MAX_SHARE_OF_FD_LIMIT))


class _QuietProtocolLog(logging.Filter):
    """aiohttp logs every malformed request with a traceback; keep one line per interval instead."""

    def __init__(self) -> None:
        super().__init__()
        self._last = -1e18
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < REFUSAL_LOG_INTERVAL_SECONDS:
            self._dropped += 1
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = f"refused a malformed request: {error or record.getMessage()}"
        if self._dropped:
            record.msg += f" ({self._dropped} more since the last such line)"
        record.args, record.exc_info, record.exc_text = (), None, None
        self._last, self._dropped = now, 0
        return True


_PROTOCOL_LOG = logging.getLogger("sealer_fsm.rpc.http")
_PROTOCOL_LOG.addFilter(_QuietProtocolLog())


class RpcHttpServer:
    """JSON-RPC `dispatcher` POSTed at `rpc_paths`, plus `routes`, behind one token and one set of limits."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        token: str | None,
        limits: ServerLimits = ServerLimits(),
        rpc_paths: Sequence[str] = ("/",),
        routes: Sequence[Route] = (),
        realm: str = "sealer-fsm",
    ) -> None:
        self.dispatcher = dispatcher
        self.limits = limits
        self._token = token.encode() if token else None
        self._realm = realm
        app = web.Application(client_max_size=limits.max_body, middlewares=[self._authorize])
        for path in rpc_paths:
            app.router.add_post(path, self._rpc)
        for route in routes:
            app.router.add_route(route.method, route.path, route.handler)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=limits.idle_timeout,
            logger=_PROTOCOL_LOG,
            handle_signals=False,
            lingering_time=0,  # a body we refused is not read: close at once rather than drain it
        )
        self._site: _CappedSite | None = None
        self.host = ""
        self.tls = False

    @property
    def port(self) -> int:
        assert self._site is not None, "server not started"
        return self._site.port

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def requires_token(self) -> bool:
        return self._token is not None

    async def start(self, host: str, port: int, tls: TlsFiles | None = None) -> None:
        ssl_context = tls.server_context() if tls is not None else None
        await self._runner.setup()
        cap = connection_cap(self.limits.max_connections)
        if cap < self.limits.max_connections:
            log.warning(
                "connection cap lowered from %d to %d: a quarter of this process's descriptor limit",
                self.limits.max_connections,
                cap,
            )
        site = _CappedSite(self._runner, host, port, cap, ssl_context)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise ServerStartError(
                f"cannot listen on {format_address(host, port)}: {error.strerror or error}"
            ) from error
        self._site, self.host, self.tls = site, host, ssl_context is not None

    async def close(self) -> None:
        """Stop listening and drop open connections (keep-alive clients would otherwise hold them forever)."""
        await self._runner.cleanup()

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._token is not None:
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._token):
                return web.Response(
                    status=401,
                    text="missing or wrong bearer token\n",
                    headers={"WWW-Authenticate": f'Bearer realm="{self._realm}"'},
                )
        return await handler(request)

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > self.limits.max_body:
            response = web.Response(status=413, text=f"request body over {self.limits.max_body} bytes\n")
            response.force_close()  # the body is never read, so the connection cannot carry another request
            return response
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            response = web.Response(status=413, text=f"request body over {self.limits.max_body} bytes\n")
            response.force_close()
            return response
        answer = await self.dispatcher.handle(body)
        if answer is None:
            return web.Response(status=204)
        return web.Response(body=answer, content_type="application/json")


def text_response(status: int, text: str, **headers: Any) -> web.Response:
    """A plain-text answer of one line, e.g. for 404 or 405 on a route of ours."""
    return web.Response(status=status, text=text.rstrip("\n") + "\n", headers=headers or None)

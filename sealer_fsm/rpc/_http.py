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

import contextvars
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from aiohttp import web

from sealer_fsm.rpc._address import format_address
from sealer_fsm.rpc._jsonrpc import Dispatcher
from sealer_fsm.rpc._listener import CappedSite, EveryInterval, connection_cap

log = logging.getLogger("sealer_fsm.rpc")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 128
DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The HTTP headers of the request a JSON-RPC method is answering (set for the duration of its dispatch), for the
# rare method that reads one (the devnet's allocation request id).
REQUEST_HEADERS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "request_headers", default=MappingProxyType({})
)


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


class _QuietProtocolLog(logging.Filter):
    """aiohttp logs every malformed request with a traceback; keep one line per interval instead."""

    def __init__(self) -> None:
        super().__init__()
        self._lines = EveryInterval()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._lines.due():
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = f"refused a malformed request: {error or record.getMessage()} ({self._lines.count} in all)"
        record.args, record.exc_info, record.exc_text = (), None, None
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
        self._site: CappedSite | None = None
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
        site = CappedSite(self._runner, host, port, cap, ssl_context)
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
        REQUEST_HEADERS.set(request.headers)
        answer = await self.dispatcher.handle(body)
        if answer is None:
            return web.Response(status=204)
        return web.Response(body=answer, content_type="application/json")

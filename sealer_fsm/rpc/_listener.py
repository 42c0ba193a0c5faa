"""Accepting connections with a cap on how many stay open, so a server never starves its process of descriptors.

We run the accept loop ourselves and count the sockets we hold, not aiohttp's request handlers: the event loop
accepts a burst of connections before any of them reaches aiohttp, and a connection still in its TLS handshake
holds a descriptor too. Past the cap a connection is answered `503 Service Unavailable` and closed at once; the
refusals are logged at most once per interval. When the process is out of descriptors anyway, accepting pauses
briefly (logged the same way) instead of spinning.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass, field

from aiohttp import web

from sealer_fsm.rpc._address import format_address

log = logging.getLogger("sealer_fsm.rpc")

REFUSAL_LOG_INTERVAL_SECONDS = 10.0
ACCEPT_PAUSE_SECONDS = 0.1
# A cap never takes more than this share of the process's descriptor limit: the rest is the sealing threads'.
_MAX_SHARE_OF_FD_LIMIT = 4
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry\r\n\r\n"
)


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to a quarter of this process's soft descriptor limit when that is smaller."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // _MAX_SHARE_OF_FD_LIMIT))


@dataclass
class EveryInterval:
    """Says something at most once per interval, with how many times it happened in all."""

    interval: float = REFUSAL_LOG_INTERVAL_SECONDS
    count: int = 0
    _last: float = field(default=-1e18)

    def due(self) -> bool:
        self.count += 1
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


class CappedSite(web.BaseSite):
    """A TCP site for an aiohttp runner that holds at most `cap` connections open."""

    __slots__ = (
        "_accepting",
        "_bound_port",
        "_cap",
        "_held",
        "_host",
        "_listener",
        "_out_of_fds",
        "_port",
        "_refusals",
        "_serving",
    )

    def __init__(self, runner: web.AppRunner, host: str, port: int, cap: int, ssl_context: ssl.SSLContext | None):
        super().__init__(runner, ssl_context=ssl_context, backlog=512)
        self._host, self._port, self._cap = host, port, cap
        self._bound_port = port
        self._held: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._refusals = EveryInterval()
        self._out_of_fds = EveryInterval()
        self._serving: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{format_address(self._host, self._bound_port)}"

    @property
    def port(self) -> int:
        return self._bound_port

    @property
    def open_connections(self) -> int:
        """Sockets accepted and not closed yet (closing a transport closes its socket: fileno() becomes -1)."""
        self._held = {sock for sock in self._held if sock.fileno() != -1}
        return len(self._held)

    async def start(self) -> None:
        await super().start()
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._port))
            listener.listen(self._backlog)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._bound_port = listener.getsockname()[1]
        self._accepting = asyncio.create_task(self._accept_loop(listener), name=f"accept {self.name}")

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with suppress(asyncio.CancelledError):
                await self._accepting
        if self._listener is not None:
            self._listener.close()
        await super().stop()

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
            except OSError as error:
                if error.errno not in _OUT_OF_DESCRIPTORS:
                    raise
                if self._out_of_fds.due():
                    log.warning(
                        "out of file descriptors accepting a connection on %s (%d times); pausing %gs",
                        self.name,
                        self._out_of_fds.count,
                        ACCEPT_PAUSE_SECONDS,
                    )
                await asyncio.sleep(ACCEPT_PAUSE_SECONDS)
                continue
            if self.open_connections >= self._cap:
                self._refuse(connection)
                continue
            self._held.add(connection)
            task = asyncio.create_task(self._serve(connection))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    def _refuse(self, connection: socket.socket) -> None:
        with suppress(OSError), connection:
            if self._ssl_context is None:  # a TLS client would read plain text as a broken handshake anyway
                connection.setblocking(False)
                connection.send(_REFUSAL)
        if self._refusals.due():
            log.warning(
                "refusing connections beyond the cap of %d open connections on %s (%d refused so far)",
                self._cap,
                self.name,
                self._refusals.count,
            )

    async def _serve(self, connection: socket.socket) -> None:
        """Hand the connection to aiohttp (after the TLS handshake, with TLS); a failed handshake just closes it."""
        server = self._runner.server
        assert server is not None
        try:
            await asyncio.get_running_loop().connect_accepted_socket(server, connection, ssl=self._ssl_context)
        except (TimeoutError, OSError, ssl.SSLError):
            connection.close()

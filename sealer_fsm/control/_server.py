"""The worker's control server: JSON-RPC at `/`, Prometheus text at `/metrics`, one port, one token.

The server runs on the worker's event loop, so every method calls the Worker from the thread that owns it.
`start_control_server` is what `sealer-fsm run` calls next to `worker.run()`. HTTP, limits and TLS are the
shared `sealer_fsm.rpc` server's.
"""

from __future__ import annotations

import os

from aiohttp import web

from sealer_fsm.control._methods import WorkerMethods
from sealer_fsm.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sealer_fsm.metrics import WorkerMetrics
from sealer_fsm.rpc import (
    Dispatcher,
    Route,
    RpcHttpServer,
    ServerLimits,
    ServerStartError,
    TlsFiles,
    is_loopback,
)
from sealer_fsm.runtime import Worker

TOKEN_ENV = "SEALER_FSM_TOKEN"
RPC_PATHS = ("/", "/rpc/v0")


class ControlServerError(Exception):
    """The server cannot start as configured; the message says what to change."""


def resolve_token(configured: str | None) -> str | None:
    """The token in force: SEALER_FSM_TOKEN overrides the machine file's `[worker.rpc_server] token`."""
    return os.environ.get(TOKEN_ENV) or configured or None


class ControlServer(RpcHttpServer):
    def __init__(
        self,
        worker: Worker,
        token: str | None,
        metrics: WorkerMetrics | None,
        limits: ServerLimits | None = None,
    ) -> None:
        routes = [] if metrics is None else [Route("GET", "/metrics", self._metrics_page)]
        super().__init__(
            Dispatcher(WorkerMethods(worker).table()),
            token=token,
            limits=limits or ServerLimits(),
            rpc_paths=RPC_PATHS,
            routes=routes,
        )
        self._metrics = metrics

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        assert self._metrics is not None
        return web.Response(body=self._metrics.exposition(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def start_control_server(
    worker: Worker,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    *,
    metrics: WorkerMetrics | None = None,
) -> ControlServer:
    """Serve the worker's control RPC (and metrics, unless `[metrics] enable = false`) until `close()`.

    `host`/`port` default to the machine file's `[worker.rpc_server]`; port 0 picks a free port (see `.port`).
    The token defaults to SEALER_FSM_TOKEN, then to the machine file's; when there is one, every request
    must carry it. Listening beyond loopback without a token is refused: anyone on the network could
    otherwise abort sectors. With `tls_cert`/`tls_key` configured the server speaks HTTPS only.
    """
    settings = worker.config.worker.rpc_server
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    token = token or resolve_token(settings.token)
    if not is_loopback(host) and not token:
        raise ControlServerError(
            f"the control server would listen on {host}, beyond loopback, without a token:"
            f" set [worker.rpc_server] token in the machine file or {TOKEN_ENV}"
        )
    if metrics is None and worker.config.metrics.enable:
        metrics = WorkerMetrics(worker)
    tls = None
    if settings.tls_cert and settings.tls_key:
        tls = TlsFiles(worker.config.resolve(settings.tls_cert), worker.config.resolve(settings.tls_key))
    server = ControlServer(worker, token, metrics, ServerLimits(max_connections=settings.max_connections))
    try:
        await server.start(host, port, tls)
    except ServerStartError as error:
        raise ControlServerError(str(error)) from error
    return server

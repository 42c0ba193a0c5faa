"""The worker's control server: JSON-RPC at `/`, Prometheus text at `/metrics`, one port, one token.

The server runs on the worker's event loop, so every method calls the Worker from the thread that owns it.
`start_control_server` is what `sealer-fsm run` calls next to `worker.run()`.
"""

from __future__ import annotations

import hmac
import os
from http import HTTPStatus

from sealer_fsm.control._address import format_address, is_loopback
from sealer_fsm.control._http import MAX_BODY_BYTES, HttpRequest, HttpResponse, HttpServer, text_response
from sealer_fsm.control._jsonrpc import Dispatcher
from sealer_fsm.control._methods import WorkerMethods
from sealer_fsm.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from sealer_fsm.metrics import WorkerMetrics
from sealer_fsm.runtime import Worker

TOKEN_ENV = "SEALER_FSM_TOKEN"
RPC_PATHS = ("/", "/rpc/v0")


class ControlServerError(Exception):
    """The server cannot start as configured; the message says what to change."""


def resolve_token(configured: str | None) -> str | None:
    """The token in force: SEALER_FSM_TOKEN overrides the machine file's `[worker.rpc_server] token`."""
    return os.environ.get(TOKEN_ENV) or configured or None


class ControlServer:
    def __init__(self, worker: Worker, token: str | None, metrics: WorkerMetrics | None) -> None:
        self._dispatcher = Dispatcher(WorkerMethods(worker).table())
        self._token = token.encode() if token else None
        self._metrics = metrics
        self._http = HttpServer(self._handle, max_body=MAX_BODY_BYTES)
        self.host = ""

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def requires_token(self) -> bool:
        return self._token is not None

    async def start(self, host: str, port: int) -> None:
        await self._http.start(host, port)
        self.host = host

    async def close(self) -> None:
        await self._http.close()

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        if not self._authorized(request):
            return HttpResponse(
                HTTPStatus.UNAUTHORIZED,
                b"missing or wrong bearer token\n",
                "text/plain; charset=utf-8",
                {"WWW-Authenticate": 'Bearer realm="sealer-fsm"'},
            )
        if request.path == "/metrics" and self._metrics is not None:
            if request.method != "GET":
                return text_response(HTTPStatus.METHOD_NOT_ALLOWED, "use GET for /metrics")
            return HttpResponse(HTTPStatus.OK, self._metrics.exposition(), METRICS_CONTENT_TYPE)
        if request.path in RPC_PATHS:
            if request.method != "POST":
                return text_response(HTTPStatus.METHOD_NOT_ALLOWED, "JSON-RPC requests are POSTed")
            answer = self._dispatcher.handle(request.body)
            return HttpResponse(HTTPStatus.NO_CONTENT) if answer is None else HttpResponse(HTTPStatus.OK, answer)
        return text_response(HTTPStatus.NOT_FOUND)

    def _authorized(self, request: HttpRequest) -> bool:
        if self._token is None:
            return True
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self._token)


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
    otherwise abort sectors.
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
    server = ControlServer(worker, token, metrics)
    try:
        await server.start(host, port)
    except OSError as error:
        raise ControlServerError(f"cannot listen on {format_address(host, port)}: {error.strerror or error}") from error
    return server

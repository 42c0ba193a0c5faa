"""JSON-RPC over HTTP, shared by our servers and clients: dispatch, the aiohttp server with its limits, addresses.

Nothing here knows about workers or sector managers: the control server (`sealer_fsm.control`) and the devnet
server (`sealer-fsm devnet serve`) each give it a method table.
"""

from sealer_fsm.rpc._address import (
    DEFAULT_ADDRESS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    AddressError,
    format_address,
    is_loopback,
    manager_rpc_url,
    parse_address,
)
from sealer_fsm.rpc._http import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    REQUEST_HEADERS,
    Route,
    RpcHttpServer,
    ServerLimits,
    ServerStartError,
    TlsFiles,
)
from sealer_fsm.rpc._jsonrpc import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_RESPONSE_BYTES,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RESPONSE_TOO_LARGE,
    Dispatcher,
    Method,
    Param,
    RpcError,
)
from sealer_fsm.rpc._listener import connection_cap

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_HOST",
    "DEFAULT_IDLE_TIMEOUT_SECONDS",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_PORT",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "REQUEST_HEADERS",
    "RESPONSE_TOO_LARGE",
    "AddressError",
    "Dispatcher",
    "Method",
    "Param",
    "Route",
    "RpcError",
    "RpcHttpServer",
    "ServerLimits",
    "ServerStartError",
    "TlsFiles",
    "connection_cap",
    "format_address",
    "is_loopback",
    "manager_rpc_url",
    "parse_address",
]

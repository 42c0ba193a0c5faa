"""The worker's control surface: the JSON-RPC server a running worker serves, and the client that talks to it.

Public surface: `start_control_server` (used by `sealer-fsm run`), `ControlServer`, `ControlServerError`,
`ControlClient` / `ControlClientError` (used by the CLI, the TUI and the diagram command) and the address helpers.
"""

from sealer_fsm.control._server import (
    TOKEN_ENV,
    ControlServer,
    ControlServerError,
    resolve_token,
    start_control_server,
)
from sealer_fsm.control.client import CA_ENV, ControlClient, ControlClientError
from sealer_fsm.rpc import (
    DEFAULT_ADDRESS,
    DEFAULT_PORT,
    AddressError,
    format_address,
    is_loopback,
    parse_address,
)

__all__ = [
    "CA_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "AddressError",
    "ControlClient",
    "ControlClientError",
    "ControlServer",
    "ControlServerError",
    "format_address",
    "is_loopback",
    "parse_address",
    "resolve_token",
    "start_control_server",
]

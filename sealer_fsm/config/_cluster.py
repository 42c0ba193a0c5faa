"""The machine-file sections that join a worker to a cluster: the manager it talks to, and `devnet serve`.

A worker reaches a remote sector manager (a damocles-manager, or another host's `sealer-fsm devnet serve`)
through `[sector_manager] rpc_client`, written as the reference writes it; `[devnet_server]` says how
`devnet serve` listens when this machine file is the manager's side of a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from sealer_fsm.config._schema import Bounds, ConfigError, Duration, PositiveDuration
from sealer_fsm.rpc import AddressError, manager_rpc_url, parse_address

DEFAULT_DEVNET_LISTEN = "127.0.0.1:1789"
# How many connections a server holds open at most (it lowers this to a quarter of its descriptor limit).
ConnectionCap = Annotated[int, Bounds(low=1, high=1 << 20)]


@dataclass(frozen=True)
class RpcClientConfig:
    """The reference's `[sector_manager] rpc_client`, plus how long our client rides out an unreachable manager."""

    # A multiaddr (/ip4/H/tcp/P, /dns4/..., optionally /https) or http(s)://H:P; JSON-RPC goes to <it>/rpc/v0.
    addr: str
    # Sent with every call, e.g. { Authorization = "Bearer <token>" } for a manager that wants a token.
    headers: dict[str, str] = field(default_factory=dict)
    # One call's deadline.
    timeout: PositiveDuration = 30.0
    # A manager that cannot be reached (restarting, network down) is retried with backoff this long before the
    # step sees the error (and retries as a Temporary failure); it rides out a manager restart.
    retry_for: Duration = 120.0
    # A PEM file of CAs to trust for an https manager with a private certificate.
    tls_ca: str | None = None

    @property
    def url(self) -> str:
        return manager_rpc_url(self.addr)


@dataclass(frozen=True)
class DevnetServerConfig:
    """How `sealer-fsm devnet serve` listens (its --listen overrides `listen`)."""

    listen: str = DEFAULT_DEVNET_LISTEN
    # Required beyond loopback; SEALER_FSM_DEVNET_TOKEN overrides it. Workers send it in rpc_client.headers.
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    # Every worker keeps a few keep-alive connections: room for a hundred workers by default.
    max_connections: ConnectionCap = 512


def check_rpc_client(client: RpcClientConfig) -> None:
    try:
        client.url  # noqa: B018 - parsing is the check
    except AddressError as error:
        raise ConfigError(f"[sector_manager] rpc_client.addr: {error}") from error
    for name, value in client.headers.items():
        if not name or any(char in name for char in ":\r\n") or any(char in value for char in "\r\n"):
            raise ConfigError(f"[sector_manager] rpc_client.headers: {name!r} is not a valid HTTP header")


def check_devnet_server(server: DevnetServerConfig) -> None:
    try:
        parse_address(server.listen)
    except AddressError as error:
        raise ConfigError(f"[devnet_server] listen: {error}") from error
    check_tls_pair("[devnet_server]", server.tls_cert, server.tls_key)


def check_tls_pair(where: str, tls_cert: str | None, tls_key: str | None) -> None:
    if (tls_cert is None) != (tls_key is None):
        given, missing = ("tls_cert", "tls_key") if tls_key is None else ("tls_key", "tls_cert")
        raise ConfigError(f"{where} {missing}: {given} is set, so {missing} is needed too (or neither, for plain HTTP)")

"""Addresses of our servers: `HOST:PORT` as typed on a command line, and whether a host is loopback.

One parser for `sealer-fsm run --listen`, `worker --host`, `plan diagram --host` and SEALER_FSM_HOST, so all of
them accept the same spellings (`127.0.0.1:17890`, `localhost:17890`, `[::1]:17890`, `:17890`).
"""

from __future__ import annotations

import ipaddress

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 17890
DEFAULT_ADDRESS = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


class AddressError(ValueError):
    """An address that is not `HOST:PORT`; the message names what was typed."""


def parse_address(text: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """(host, port) from `HOST:PORT`, `[IPv6]:PORT` or `:PORT`; raises AddressError."""
    host, separator, port_text = text.strip().rpartition(":")
    if not separator:
        raise AddressError(f"address {text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise AddressError(f"address {text!r} has no valid port (0 to 65535)")
    return host or default_host, int(port_text)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """True only for hosts that cannot be reached from another machine; unknown names count as remote."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_MULTIADDR_HOSTS = ("ip4", "ip6", "dns", "dns4", "dns6")


def manager_rpc_url(address: str) -> str:
    """The JSON-RPC URL of a sector manager from the reference's `rpc_client.addr`: a multiaddr
    (`/ip4/H/tcp/P`, `/ip6/...`, `/dns4/...`, optionally ending in `/http` or `/https`) or a plain
    `http(s)://H:P`, which both become `http(s)://H:P/rpc/v0`; raises AddressError."""
    text = address.strip()
    if text.startswith("/"):
        scheme, host, port = _from_multiaddr(text)
    else:
        scheme, separator, rest = text.partition("://")
        if not separator or scheme.lower() not in ("http", "https"):
            raise AddressError(f"address {address!r} is neither a multiaddr (/ip4/H/tcp/P) nor an http(s):// URL")
        authority = rest.split("/", 1)[0]
        if ":" in authority.rsplit("]", 1)[-1]:
            host, port = parse_address(authority)
        else:
            host, port = authority.strip("[]"), (443 if scheme.lower() == "https" else 80)
        scheme = scheme.lower()
    if not host:
        raise AddressError(f"address {address!r} has no host")
    return f"{scheme}://{format_address(host, port)}/rpc/v0"


def _from_multiaddr(text: str) -> tuple[str, str, int]:
    parts = text.strip("/").split("/")
    scheme, host, port = "http", "", 0
    index = 0
    while index < len(parts):
        protocol = parts[index]
        if protocol in _MULTIADDR_HOSTS or protocol == "tcp":
            if index + 1 >= len(parts):
                raise AddressError(f"multiaddr {text!r}: /{protocol} needs a value")
            value = parts[index + 1]
            if protocol == "tcp":
                if not value.isascii() or not value.isdigit() or not 0 < int(value) <= 65535:
                    raise AddressError(f"multiaddr {text!r}: /tcp/{value} is not a port from 1 to 65535")
                port = int(value)
            else:
                host = value
            index += 2
        elif protocol in ("http", "https"):
            scheme = protocol
            index += 1
        else:
            raise AddressError(f"multiaddr {text!r}: /{protocol} is not supported (use ip4, ip6, dns*, tcp, http(s))")
    if not port:
        raise AddressError(f"multiaddr {text!r} has no /tcp/PORT")
    return scheme, host, port

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

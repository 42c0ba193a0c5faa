"""Raw HTTP for tests that must send what ControlClient never would: broken JSON, huge bodies, bad heads."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any


def post(port: int, body: bytes | str, headers: dict[str, str] | None = None, path: str = "/") -> tuple[int, Any]:
    """POST `body`; returns the status and the decoded JSON answer (None for an empty or non-JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body.encode() if isinstance(body, str) else body, headers or {})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(payload) if payload else None
    except ValueError:
        return response.status, None


def rpc(port: int, method: str, params: Any = None, request_id: Any = 1) -> dict[str, Any]:
    """One JSON-RPC request; returns the whole response object."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        request["params"] = params
    status, answer = post(port, json.dumps(request))
    assert status == 200, status
    return answer


def raw_exchange(port: int, data: bytes, *, end_input: bool = True) -> bytes:
    """Send raw bytes on a fresh connection, end our side (unless `end_input` is false: a client still sending
    a body), and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if end_input:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)

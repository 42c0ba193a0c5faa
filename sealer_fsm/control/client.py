"""A blocking JSON-RPC client for a worker's control server, shared by the CLI, the TUI and the diagram command.

Every way a call can fail (unreachable worker, refused token, HTTP error, JSON-RPC error) raises the one
ControlClientError with a sentence an operator can act on, so the surfaces above show it as it is.
A client keeps one keep-alive connection; it is not thread-safe (use one client per thread).

Blocking on purpose (the standard library's http.client, not aiohttp): every caller is synchronous code (a CLI
command, the TUI's worker thread, the diagram command), and one blocking call per command costs no event loop.
`https://HOST:PORT` reaches a server with TLS; `ca_file` (SEALER_FSM_CA for the CLI) trusts a private CA.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import ssl
from typing import Any

from sealer_fsm.rpc import DEFAULT_ADDRESS, AddressError, format_address, parse_address

CA_ENV = "SEALER_FSM_CA"  # a PEM file of CAs to trust for https:// addresses (e.g. a self-signed worker cert)

# The server closed a kept-alive connection (idle timeout, restart) before our request reached it.
_DROPPED_CONNECTION = (BrokenPipeError, ConnectionResetError)


class ControlClientError(Exception):
    """A failed control call. `code` and `data` are the JSON-RPC error's, when the worker answered with one."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class ControlClient:
    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        token: str | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        scheme, separator, rest = address.partition("://")
        self.tls = separator != "" and scheme.lower() == "https"
        if separator and not self.tls and scheme.lower() != "http":
            raise ControlClientError(f"address {address!r}: the scheme must be http:// or https://")
        try:
            self.host, self.port = parse_address(rest if separator else address)
        except AddressError as error:
            raise ControlClientError(str(error)) from error
        self.address = ("https://" if self.tls else "") + format_address(self.host, self.port)
        self._ca_file = ca_file
        self._token = token
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._connection: http.client.HTTPConnection | None = None

    def call(self, method: str, *params: Any) -> Any:
        """The result of `method(*params)` on the worker; raises ControlClientError."""
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        status, payload = self._post(body.encode())
        if status == http.client.UNAUTHORIZED:
            hint = "set SEALER_FSM_TOKEN to the worker's token" if not self._token else "check SEALER_FSM_TOKEN"
            raise ControlClientError(f"the worker at {self.address} refused the request (HTTP 401): {hint}")
        if status != http.client.OK:
            reason = payload.decode("utf-8", "replace").strip()[:200]
            raise ControlClientError(f"the worker at {self.address} answered HTTP {status}: {reason}")
        try:
            response = json.loads(payload)
        except ValueError as error:
            raise ControlClientError(f"the worker at {self.address} sent a response that is not JSON") from error
        if not isinstance(response, dict) or response.get("id") != request_id:
            raise ControlClientError(f"the worker at {self.address} sent an unexpected response to {method}")
        refusal = response.get("error")
        if refusal is not None:
            raise ControlClientError(str(refusal.get("message")), refusal.get("code"), refusal.get("data"))
        return response.get("result")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _post(self, body: bytes) -> tuple[int, bytes]:
        """POST once; a kept-alive connection the server has closed since is retried once on a fresh one."""
        reused = self._connection is not None
        try:
            return self._exchange(body)
        except ControlClientError as error:
            if not (reused and isinstance(error.__cause__, _DROPPED_CONNECTION)):
                raise
        return self._exchange(body)

    def _exchange(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.request("POST", "/", body, headers)
            response = self._connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ControlClientError(self._describe(error)) from error
        if response.will_close:
            self.close()
        return response.status, payload

    def _connect(self) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
        try:
            context = ssl.create_default_context(cafile=self._ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ControlClientError(f"cannot read the CA file {self._ca_file}: {error}") from error
        return http.client.HTTPSConnection(self.host, self.port, timeout=self._timeout, context=context)

    def _describe(self, error: Exception) -> str:
        if isinstance(error, ssl.SSLCertVerificationError):
            reason = error.verify_message
            return f"the worker at {self.address} has a certificate we do not trust ({reason}): set {CA_ENV}"
        if isinstance(error, ssl.SSLError):
            return f"TLS with the worker at {self.address} failed: {error.reason or error} (is it serving https?)"
        if isinstance(error, ConnectionRefusedError):
            return f"cannot reach the worker at {self.address}: connection refused (is `sealer-fsm run` running?)"
        if isinstance(error, socket.timeout | TimeoutError):
            return f"the worker at {self.address} did not answer within {self._timeout:g}s"
        if isinstance(error, _DROPPED_CONNECTION):
            return f"the worker at {self.address} closed the connection ({error})"
        return f"cannot reach the worker at {self.address}: {getattr(error, 'strerror', None) or error}"

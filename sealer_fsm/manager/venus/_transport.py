"""JSON-RPC over HTTP to a sector manager, on aiohttp: one session, positional params, errors as ManagerError.

How a call can end, as the reference worker classes it:
- a result: returned as JSON;
- a JSON-RPC error 11001 (SectorStateNotFound): `SectorStateNotFound`, which aborts the sector;
- any other JSON-RPC error (go-jsonrpc's code 1 for a method's error): `ManagerError`, a Temporary failure;
- the manager cannot be reached (refused, reset, timed out, 502/503/504 from a proxy or our connection cap):
  retried here with exponential backoff for up to `retry_for` seconds, then `ManagerError`. A manager restart
  therefore costs the steps nothing but time, and no thread pauses because of it.
Every call the reference worker makes may be repeated: it re-runs a handler after any Temporary failure.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from sealer_fsm.manager._types import ManagerError, SectorStateNotFound

log = logging.getLogger("sealer_fsm.manager.rpc")
T = TypeVar("T")

_RETRY_FIRST_DELAY = 0.05
_RETRY_MAX_DELAY = 2.0
_UNREACHABLE_STATUSES = (502, 503, 504)
_WARNING_INTERVAL = 10.0
# Connections one worker keeps to its manager; more concurrent calls wait for one. A manager serves many
# workers under its own connection cap, so each worker must take only a few of its slots.
MAX_CONNECTIONS = 8


class _Unreachable(Exception):
    """The request did not get an answer from the manager; it may be retried."""


class RpcTransport:
    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry_for: float = 120.0,
        ca_file: str | None = None,
    ) -> None:
        self.url = url
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_for = retry_for
        self._ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._last_warning = -1e18

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ManagerError("the sector manager client is closed (the worker is stopping)")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def close(self) -> None:
        """Close the connections; calls still in flight, or made after, fail with ManagerError at once."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, *params: Any, headers: Mapping[str, str] | None = None) -> Any:
        """The result of `method(*params)`; raises ManagerError (SectorStateNotFound for 11001)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        answer = await self._with_retries(method, lambda: self._post(method, body, headers))
        if not isinstance(answer, dict) or answer.get("id") != body["id"]:
            raise ManagerError(f"{method}: the manager sent an unexpected answer")
        error = answer.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            if code == SectorStateNotFound.code:
                raise SectorStateNotFound(f"{method}: sector state not found on the manager ({message})")
            raise ManagerError(f"{method}: {message} (error {code})")
        return answer.get("result")

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None, what: str) -> bytes:
        """The body of a GET (e.g. a piece from the manager's piece store); retried like a call."""
        return await self._with_retries(what, lambda: self._get(url, headers, what))

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_for
        delay = _RETRY_FIRST_DELAY
        while True:
            try:
                return await attempt()
            except _Unreachable as error:
                if self._closed:
                    raise ManagerError(f"{what}: the sector manager client is closed") from error
                if loop.time() + delay > deadline:
                    raise ManagerError(f"{what}: {error} (for {self._retry_for:g}s; will retry later)") from error
                self._warn(f"{what}: {error}; retrying for up to {self._retry_for:g}s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_DELAY)

    def _warn(self, message: str) -> None:
        """One line per interval while the manager is away, not one per retried call."""
        now = time.monotonic()
        if now - self._last_warning >= _WARNING_INTERVAL:
            self._last_warning = now
            log.warning("sector manager at %s unreachable: %s", self.url, message)

    async def _post(self, method: str, body: dict[str, Any], headers: Mapping[str, str] | None) -> Any:
        try:
            async with self._client().post(
                self.url, json=body, headers={**self._headers, **(headers or {})}, ssl=self._ssl
            ) as response:
                payload = await self._read(response, method)
        except aiohttp.ClientSSLError as error:  # a certificate we do not trust will not change by retrying
            raise ManagerError(f"{method}: TLS with the manager failed: {error} (rpc_client.tls_ca?)") from error
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            raise _Unreachable(_describe(error)) from error
        except aiohttp.ClientError as error:
            raise ManagerError(f"{method}: {error}") from error
        try:
            return json.loads(payload)
        except ValueError as error:
            raise ManagerError(f"{method}: the manager's answer is not JSON") from error

    async def _get(self, url: str, headers: Mapping[str, str] | None, what: str) -> bytes:
        try:
            async with self._client().get(url, headers=dict(headers or {}), ssl=self._ssl) as response:
                return await self._read(response, what)
        except aiohttp.ClientSSLError as error:
            raise ManagerError(f"{what}: TLS with the manager failed: {error} (rpc_client.tls_ca?)") from error
        except (TimeoutError, aiohttp.ClientConnectionError) as error:
            raise _Unreachable(_describe(error)) from error
        except aiohttp.ClientError as error:
            raise ManagerError(f"{what}: {error}") from error

    async def _read(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        if response.status in _UNREACHABLE_STATUSES:
            raise _Unreachable(f"HTTP {response.status}")
        if response.status in (401, 403):
            raise ManagerError(
                f"{what}: the manager refused our credentials (HTTP {response.status});"
                " check [sector_manager] rpc_client.headers / piece_token"
            )
        if response.status != 200:
            text = (await response.text(errors="replace")).strip()[:200]
            raise ManagerError(f"{what}: the manager answered HTTP {response.status}: {text}")
        return await response.read()


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__

"""JSON-RPC 2.0 dispatch, independent of HTTP and of what serves it: request bodies in, response bodies out.

Every method declares its parameters (name, JSON type, default), so a call may pass them by position, as the
reference's tooling does, or by name; anything else is refused with -32602 before the method runs. A method may
be a plain or a coroutine function. It refuses a request by raising RpcError; any other exception is a bug,
answered with -32603 and logged.

One request body is bounded in what it may cost: a batch holds at most `max_batch` requests (a longer one is
refused whole, nothing runs), and the answers of one body stay under `max_response_bytes` (requests past the
budget are not run and are answered with an error). The event loop gets a turn between the requests of a batch,
so a batch never holds up the sealing threads that share the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sealer_fsm.rpc")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined server error: the answer would be larger than the server is willing to send.
RESPONSE_TOO_LARGE = -32000

DEFAULT_MAX_BATCH = 100
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

_REQUIRED = object()
_JSON_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    str: "a string",
    float: "a number",
    dict: "an object",
    list: "an array",
}


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # bool, int, str, float, dict, list or object (any); bool is never accepted as an int
    default: Any = _REQUIRED
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, value: Any) -> Any:
        if self.kind is object or (value is None and self.nullable):
            return value  # object: any JSON value, checked by the method itself
        accepted = isinstance(value, self.kind) and not (self.kind is not bool and isinstance(value, bool))
        if not accepted:
            expected = _JSON_TYPE_NAMES[self.kind] + (" or null" if self.nullable else "")
            shown = json.dumps(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise RpcError(INVALID_PARAMS, f"parameter {self.name!r} must be {expected}, got {shown}")
        return value


@dataclass(frozen=True)
class Method:
    function: Callable[..., Any]
    params: tuple[Param, ...] = ()

    def bind(self, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for `function` from positional or named params; RpcError(-32602) when they don't fit."""
        if isinstance(params, list):
            if len(params) > len(self.params):
                raise RpcError(INVALID_PARAMS, f"expected at most {len(self.params)} parameters, got {len(params)}")
            given = {param.name: value for param, value in zip(self.params, params, strict=False)}
        else:
            unknown = sorted(set(params) - {param.name for param in self.params})
            if unknown:
                raise RpcError(INVALID_PARAMS, f"unknown parameter {unknown[0]!r}")
            given = params
        arguments = {}
        for param in self.params:
            if param.name in given:
                arguments[param.name] = param.check(given[param.name])
            elif param.required:
                raise RpcError(INVALID_PARAMS, f"missing parameter {param.name!r}")
            else:
                arguments[param.name] = param.default
        return arguments


class Dispatcher:
    def __init__(
        self,
        methods: Mapping[str, Method],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._methods = dict(methods)
        self.max_batch = max_batch
        self.max_response_bytes = max_response_bytes
        # Called after each method call with (method name, ok, seconds); the devnet server times its methods.
        self.observer: Callable[[str, bool, float], None] | None = None

    async def handle(self, body: bytes) -> bytes | None:
        """The response body for a request body, or None when there is nothing to answer (notifications only)."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            return _encode(_error_response(None, RpcError(PARSE_ERROR, f"parse error: {error}")))
        if not isinstance(payload, list):
            answer = await self._handle_one(payload)
            if answer is None:
                return None
            encoded = _encode(answer)
            if len(encoded) > self.max_response_bytes:
                encoded = _encode(_error_response(answer.get("id"), self._too_large("the response")))
            return encoded
        if not payload:
            return _encode(_error_response(None, RpcError(INVALID_REQUEST, "empty batch")))
        if len(payload) > self.max_batch:
            refusal = f"a batch of {len(payload)} requests is over the limit of {self.max_batch}; nothing was run"
            return _encode(_error_response(None, RpcError(INVALID_REQUEST, refusal)))
        return await self._handle_batch(payload)

    async def _handle_batch(self, requests: list[Any]) -> bytes | None:
        encoded: list[bytes] = []
        size = 2
        over_budget = False
        for request in requests:
            if over_budget:
                if isinstance(request, dict) and "id" in request and _valid_id(request.get("id")):
                    encoded.append(_encode(_error_response(request["id"], self._too_large("the batch's responses"))))
                continue
            answer = await self._handle_one(request)
            await asyncio.sleep(0)  # let the sealing threads run between the requests of a batch
            if answer is None:
                continue
            item = _encode(answer)
            if size + len(item) + 1 > self.max_response_bytes:
                over_budget = True
                item = _encode(_error_response(answer.get("id"), self._too_large("the batch's responses")))
            size += len(item) + 1
            encoded.append(item)
        return b"[" + b",".join(encoded) + b"]" if encoded else None

    def _too_large(self, what: str) -> RpcError:
        return RpcError(
            RESPONSE_TOO_LARGE, f"{what} would exceed {self.max_response_bytes} bytes; ask for less in one request"
        )

    async def _handle_one(self, request: Any) -> dict[str, Any] | None:
        try:
            name, params = _parse(request)
        except RpcError as error:  # a malformed request is always answered, with id null when its id is unusable
            request_id = request.get("id") if isinstance(request, dict) and _valid_id(request.get("id")) else None
            return _error_response(request_id, error)
        request_id = request.get("id")
        started = asyncio.get_running_loop().time()
        ok = False
        try:
            result = await self._call(name, params)
            ok = True
        except RpcError as error:
            response = _error_response(request_id, error)
        except Exception:
            log.exception("RPC method %r failed", name)
            response = _error_response(request_id, RpcError(INTERNAL_ERROR, "internal error (see the server's log)"))
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        if self.observer is not None and name in self._methods:
            self.observer(name, ok, asyncio.get_running_loop().time() - started)
        return response if "id" in request else None  # a notification runs but is never answered

    async def _call(self, name: str, params: list[Any] | dict[str, Any]) -> Any:
        method = self._methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {name}")
        result = method.function(**method.bind(params))
        return await result if inspect.isawaitable(result) else result


def _parse(request: Any) -> tuple[str, list[Any] | dict[str, Any]]:
    """The method name and params of a well-formed request object; RpcError(-32600) otherwise."""
    if not isinstance(request, dict):
        raise RpcError(INVALID_REQUEST, "a request must be a JSON object")
    if not _valid_id(request.get("id")):
        raise RpcError(INVALID_REQUEST, "id must be a string, a number or null")
    if request.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"')
    name = request.get("method")
    if not isinstance(name, str):
        raise RpcError(INVALID_REQUEST, "method must be a string")
    params = request.get("params", [])
    if params is None:  # go-jsonrpc clients send null for a method without params
        params = []
    if not isinstance(params, list | dict):
        raise RpcError(INVALID_REQUEST, "params must be an array or an object")
    return name, params


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()

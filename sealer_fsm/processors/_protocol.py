"""The reference's external-processor protocol (damocles-worker `vc-processors/src/core/ext`), both ends.

- The child's first stdout line is exactly `<stage> processor ready`.
- Requests: one JSON object per line on the child's stdin, `{"id": n, "task": {...}}`, ids from 1 per producer.
- Responses: one JSON object per line on its stdout, `{"id": n, "err_msg": null | "...", "output": ... | null}`,
  in any order. Logs go to stderr.

Two conventions of ours ride on it without changing what a reference child or parent sees:
- A failure's level travels as a prefix of `err_msg` (`"temporary: ..."`); a message without one is permanent.
- `{"id": n, "cancel": true}` asks for request n to stop. Our child stops it and answers it (with
  `"cancelled: ..."`); a reference child cannot parse the line, logs it and carries on, and the parent kills it
  once the grace period is over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sealer_fsm.processors._failure import LEVELS, StageFailed

# Longest line either end reads: a C1 output of a 32GiB sector is tens of megabytes of JSON.
LINE_LIMIT = 1 << 30
CANCELLED_PREFIX = "cancelled"
_SHOWN_CHARS = 100  # unparseable lines are logged this long, as the reference does


class ProtocolError(ValueError):
    """A line that is not a response (or request) of the protocol; the message quotes it, truncated."""


def ready_line(stage: str) -> str:
    return f"{stage} processor ready"


@dataclass(frozen=True)
class Response:
    id: int
    err_msg: str | None
    output: Any


@dataclass(frozen=True)
class Request:
    id: int
    task: Any = None
    cancel: bool = False  # our extension: stop request `id`


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line (compact JSON and a newline)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def shown(line: bytes | str) -> str:
    """A line as logs quote it: decoded, stripped and cut to 100 characters."""
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _object(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not JSON: {shown(line)!r}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON object: {shown(line)!r}")
    identifier = message.get("id")
    if isinstance(identifier, bool) or not isinstance(identifier, int) or identifier < 0:
        raise ProtocolError(f"no request id: {shown(line)!r}")
    return message


def decode_response(line: bytes) -> Response:
    message = _object(line)
    err_msg = message.get("err_msg")
    if err_msg is not None and not isinstance(err_msg, str):
        raise ProtocolError(f"err_msg is not a string: {shown(line)!r}")
    return Response(message["id"], err_msg, message.get("output"))


def decode_request(line: bytes) -> Request:
    message = _object(line)
    if message.get("cancel") is True:
        return Request(message["id"], cancel=True)
    if "task" not in message:
        raise ProtocolError(f"no task: {shown(line)!r}")
    return Request(message["id"], message["task"])


def error_message(failure: BaseException) -> str:
    """`err_msg` for a failed task, on one line, its level first (`permanent: ...` when it names none)."""
    text = one_line(str(failure)) or type(failure).__name__
    level, colon, _ = text.partition(":")
    return text if colon and level in LEVELS else f"permanent: {text}"


def one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def failure_of(err_msg: str, what: str) -> StageFailed:
    """The failure a child's `err_msg` stands for; `what` names the processor for messages without a level."""
    text = one_line(err_msg) or "failed without a message"
    level, colon, rest = text.partition(":")
    if colon and level in LEVELS:
        return StageFailed(rest.strip(), level)
    return StageFailed(f"{what}: {text}")

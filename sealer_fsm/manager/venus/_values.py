"""The primitive values of the Venus wire, read strictly: each fault names the field path it is in.

go-jsonrpc encodes Go structs with encoding/json: byte slices as standard base64, `[32]byte` commitments as
arrays of 32 integers, CIDs as `{"/": "<cid>"}`, absent pointers as `null`. Readers raise `WireError` naming
where the value sits ("AllocatedSector.ID.Miner: expected an unsigned integer, got -1").
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

MAX_U64 = 2**64 - 1
MAX_I64 = 2**63 - 1


class WireError(ValueError):
    """A value on the wire that is not what the Venus API says; the message names the field."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """A JSON object read field by field, with the path of each field for messages."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise WireError(f"{path}: expected an object, got {_shown(value)}")
        self._value = value
        self.path = path

    def _get(self, name: str, *, optional: bool = False) -> Any:
        if name not in self._value:
            if optional:
                return None
            raise WireError(f"{self.path}.{name}: missing")
        return self._value[name]

    def sub(self, name: str) -> Fields:
        return Fields(self._get(name), f"{self.path}.{name}")

    def optional_sub(self, name: str) -> Fields | None:
        value = self._get(name, optional=True)
        return None if value is None else Fields(value, f"{self.path}.{name}")

    def unsigned(self, name: str) -> int:
        return read_unsigned(self._get(name), f"{self.path}.{name}")

    def signed(self, name: str) -> int:
        return read_signed(self._get(name), f"{self.path}.{name}")

    def optional_unsigned(self, name: str) -> int | None:
        value = self._get(name, optional=True)
        return None if value is None else read_unsigned(value, f"{self.path}.{name}")

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise WireError(f"{self.path}.{name}: expected true or false, got {_shown(value)}")
        return value

    def text(self, name: str) -> str:
        return read_text(self._get(name), f"{self.path}.{name}")

    def optional_text(self, name: str) -> str | None:
        value = self._get(name, optional=True)
        return None if value is None else read_text(value, f"{self.path}.{name}")

    def base64(self, name: str) -> bytes:
        return read_base64(self._get(name), f"{self.path}.{name}")

    def bytes32(self, name: str) -> bytes:
        return read_bytes32(self._get(name), f"{self.path}.{name}")

    def cid(self, name: str) -> str:
        return read_cid(self._get(name), f"{self.path}.{name}")

    def array(self, name: str) -> list[Any]:
        return read_array(self._get(name), f"{self.path}.{name}")

    def optional_array(self, name: str) -> list[Any] | None:
        value = self._get(name, optional=True)
        return None if value is None else read_array(value, f"{self.path}.{name}")


def read_unsigned(value: Any, path: str, maximum: int = MAX_U64) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise WireError(f"{path}: expected an unsigned integer, got {_shown(value)}")
    return value


def read_signed(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_I64 - 1 <= value <= MAX_I64:
        raise WireError(f"{path}: expected an integer, got {_shown(value)}")
    return value


def read_text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{path}: expected a string, got {_shown(value)}")
    return value


def read_array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise WireError(f"{path}: expected an array, got {_shown(value)}")
    return value


def read_base64(value: Any, path: str) -> bytes:
    text = read_text(value, path)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WireError(f"{path}: not standard base64 ({error})") from error


def read_bytes32(value: Any, path: str) -> bytes:
    """A Go `[32]byte`: an array of exactly 32 integers from 0 to 255."""
    items = read_array(value, path)
    if len(items) != 32 or any(isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255
                               for item in items):  # fmt: skip
        raise WireError(f"{path}: expected an array of 32 integers from 0 to 255")
    return bytes(items)


def read_cid(value: Any, path: str) -> str:
    """A CID as go-cid marshals it to JSON: `{"/": "baga..."}`."""
    if not isinstance(value, dict) or set(value) != {"/"} or not isinstance(value["/"], str) or not value["/"]:
        raise WireError(f'{path}: expected a CID as {{"/": "<cid>"}}, got {_shown(value)}')
    return str(value["/"])


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def bytes32_array(data: bytes) -> list[int]:
    if len(data) != 32:
        raise WireError(f"a commitment must be 32 bytes, got {len(data)}")
    return list(data)


def cid_object(cid: str) -> dict[str, str]:
    return {"/": cid}

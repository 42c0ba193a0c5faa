"""A small typed reader from TOML tables into dataclasses.

Configuration is validated once, at the edge: every section is a dataclass whose type hints are the schema, and
this reader turns raw TOML into those objects or raises `ConfigError` naming the file, the key and what was
wrong. The rest of the code never sees a raw dict.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from sealer_fsm.units import MAX_SIZE, parse_duration, parse_size, shown


class ConfigError(ValueError):
    """One fault in a machine file, already phrased as one line naming the key."""


class _Duration:
    """Marker: the field holds seconds, written in the file as "30s", "5min" or a number."""


class _Size:
    """Marker: the field holds bytes, written in the file as "2KiB", "32GiB" or a number."""


class _Rate:
    """Marker: the field is a probability from 0 to 1."""


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Marker: the (converted) number must lie from `low` to `high`; with `positive`, above zero as well.

    Every whole number has these bounds at least (0 to 2^64-1): a value past 64 bits is a typo that would
    only fail later, deep inside the code that uses it."""

    low: int | float = 0
    high: int | float = MAX_SIZE
    positive: bool = False

    def check(self, value: float, where: str) -> None:
        if self.positive and value <= 0:
            raise ConfigError(f"{where}: must be more than 0, got {shown(value)}")
        if value < self.low:
            raise ConfigError(f"{where}: must be at least {self.low}, got {shown(value)}")
        if value > self.high:
            raise ConfigError(f"{where}: must be at most {self.high}, got {shown(value)}")


class _PlainName:
    """Marker: a name that may become a file name (letters, digits, '.', '_', '-'), never a path."""


class _SectorSize:
    """Marker: a sector size, given in bytes or as text ("2KiB"); the text is kept as written."""


Duration = Annotated[float, _Duration]
PositiveDuration = Annotated[float, _Duration, Bounds(positive=True)]
Size = Annotated[int, _Size]
SectorSize = Annotated[int, _Size, _SectorSize]
SectorSizeText = Annotated[str, _SectorSize]
Rate = Annotated[float, _Rate]
Port = Annotated[int, Bounds(high=65535)]
PlainName = Annotated[str, _PlainName]

# '#' too: the reference's own sample names its worker "worker-#1", and it is harmless in a file name.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#-]{0,63}")
MIN_SECTOR_SIZE = 256
MAX_SECTOR_SIZE = 64 << 30
_INT_BOUNDS = Bounds()


TOP_LEVEL = "machine file"


def read_section(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from the TOML table `raw`; `where` names the table in messages ("[sealing]")."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    hints = get_type_hints(cls, include_extras=True)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        # A section may name keys it knows without reading them (the reference's, set aside before reading).
        known = [*fields, *getattr(cls, "REFERENCE_KEYS", ())]
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], known)}")
    values = {}
    for name, field in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], where, name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    return cls(**values)


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """ " (did you mean 'max_retries'?)" for a likely typo, else the keys allowed there."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (allowed: {', '.join(names)})"


def _key_label(table: str, key: str) -> str:
    """How a key is named in messages: "[sealing] max_retries", "[worker.rpc_server] port"."""
    return f"[{key}]" if table == TOP_LEVEL else f"{table} {key}"


def _table_label(table: str, key: str) -> str:
    """How a nested table is named in messages: "[worker]", "[worker.rpc_server]"."""
    return f"[{key}]" if table == TOP_LEVEL else f"[{table.strip('[]')}.{key}]"


def _convert(hint: Any, value: Any, table: str, key: str) -> Any:
    label = _key_label(table, key)
    if hint is Any:  # a table validated later against its own schema (e.g. per-thread `sealing` overrides)
        return value
    origin = get_origin(hint)
    if origin is Annotated:
        return _convert_annotated(hint, value, label)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        return _convert(options[0], value, table, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{label}: expected a list, got {shown(value)}")
        (item_hint,) = get_args(hint)
        if isinstance(item_hint, type) and dataclasses.is_dataclass(item_hint):
            return [read_section(item_hint, item, f"[[{key}]] #{index}") for index, item in enumerate(value)]
        return [_convert_value(item_hint, item, f"{label}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{label}: expected a table, got {shown(value)}")
        _, value_hint = get_args(hint)
        return {str(name): _convert_value(value_hint, item, f"{label}.{name}") for name, item in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return read_section(hint, value, _table_label(table, key))
    return _convert_plain(hint, value, label)


def _convert_value(hint: Any, value: Any, label: str) -> Any:
    """A list item or table value: a plain value, one with a unit, or a raw table checked later."""
    if hint is Any:
        return value
    if get_origin(hint) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{label}: expected a table, got {shown(value)}")
        return value  # e.g. a [[sealing_thread]] entry, read against its own schema by the machine-file loader
    if get_origin(hint) is Annotated:
        return _convert_annotated(hint, value, label)
    return _convert_plain(hint, value, label)


def _convert_plain(hint: Any, value: Any, where: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {shown(value)}")
        if value < 0:
            raise ConfigError(f"{where}: must not be negative, got {shown(value)}")
        _INT_BOUNDS.check(value, where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {shown(value)}")
        if not value:
            raise ConfigError(f"{where}: must not be empty")
        if "\0" in value:
            raise ConfigError(f"{where}: must not contain a NUL character, got {shown(value)}")
        return value
    raise TypeError(f"unsupported config type {hint!r} for {where}")


def _convert_annotated(hint: Any, value: Any, where: str) -> Any:
    """A value with a unit (duration, size, rate) or a plain one, then every check its markers ask for."""
    base, *markers = get_args(hint)
    units = [marker for marker in markers if marker in (_Duration, _Size, _Rate)]
    converted = _convert_unit(units[0], value, where) if units else _convert_plain(base, value, where)
    for marker in markers:
        if isinstance(marker, Bounds):
            marker.check(converted, where)
        elif marker is _PlainName and not _PLAIN_NAME.fullmatch(converted):
            raise ConfigError(
                f"{where}: must be a plain name of letters, digits, '.', '_', '#' and '-' (at most 64),"
                f" got {shown(value)}"
            )
        elif marker is _SectorSize:
            _check_sector_size(converted, where)
    return converted


def _check_sector_size(value: int | str, where: str) -> None:
    try:
        size = parse_size(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error
    if size < MIN_SECTOR_SIZE or size > MAX_SECTOR_SIZE or size & (size - 1):
        raise ConfigError(
            f"{where}: a sector size must be a power of two from {MIN_SECTOR_SIZE} B to 64GiB, got {shown(value)}"
        )


def _convert_unit(marker: type, value: Any, where: str) -> Any:
    try:
        if marker is _Duration:
            return parse_duration(value)
        if marker is _Size:
            return parse_size(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{where}: expected a rate from 0 to 1, got {shown(value)}")
    return float(value)

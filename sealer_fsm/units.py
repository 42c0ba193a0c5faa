"""Parsing of the human-friendly durations ("30s", "5min") and sizes ("2KiB", "32GiB") used in config and plans.

One parser per kind, shared by the machine-file loader, the plan loader and the CLI, so every surface accepts
exactly the same spellings and rejects the same mistakes with the same words.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")

MAX_DURATION = 365 * 86400.0
"""The longest duration accepted anywhere: a year. Longer is a typo (or `inf`), and would sleep forever."""

MAX_SIZE = (1 << 64) - 1
"""The largest size accepted anywhere: what 64 bits hold."""


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)` for a message, cut short in the middle when long (a message stays one readable line)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...{text[-9:]}"


def parse_duration(value: object) -> float:
    """Seconds from "1h 30min", "250ms", "30s" or a plain number of seconds; ValueError names the bad value."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s', got {shown(value)}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {shown(value)}")
        return _within_a_year(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like '30s', got {shown(value)}")
    text = value.strip().lower()
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if text[position : match.start()].strip():
            break
        unit = _DURATION_UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(f"unknown duration unit {match.group(2)!r} in {shown(value)} (use ms, s, min, h, d)")
        total += float(match.group(1)) * unit
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"expected a duration like '30s' or '5min', got {shown(value)}")
    return _within_a_year(total, value)


def _within_a_year(seconds: float, value: object) -> float:
    """`seconds`, unless it is not a number (nan), infinite or longer than MAX_DURATION."""
    if not seconds <= MAX_DURATION:
        raise ValueError(f"a duration must be finite and at most a year (365d), got {shown(value)}")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact "1h 2m 3s" form used in tables; sub-second values show as "0s"."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes or hours:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)


def parse_size(value: object) -> int:
    """Bytes from "2KiB", "32GiB", "512MiB" or a plain byte count; ValueError names the bad value."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like '2KiB', got {shown(value)}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {shown(value)}")
        return _within_64_bits(value, value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size like '2KiB', got {shown(value)}")
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"expected a size like '2KiB' or '32GiB', got {shown(value)}")
    unit = _SIZE_UNITS.get(match.group(2).lower())
    if unit is None:
        raise ValueError(f"unknown size unit {match.group(2)!r} in {shown(value)} (use B, KiB, MiB, GiB, TiB)")
    return _within_64_bits(int(match.group(1)) * unit, value)


def _within_64_bits(size: int, value: object) -> int:
    if size > MAX_SIZE:
        raise ValueError(f"a size must be at most {MAX_SIZE} bytes (64 bits), got {shown(value)}")
    return size


def format_size(size: int) -> str:
    """The shortest exact binary spelling ("2KiB", "512MiB"), or plain bytes when none is exact."""
    for suffix, unit in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size}B"

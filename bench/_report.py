"""What every benchmark prints the same way: whether a figure meets its target, and how busy the machine was."""

from __future__ import annotations

import os


def verdict(ok: bool) -> str:
    return "meets target" if ok else "BELOW TARGET"


def print_load(when: str) -> None:
    """Other processes skew the figures (the two-core ones most); the load average shows whether any ran."""
    one_minute, _, _ = os.getloadavg()
    print(f"load average {when}: {one_minute:.2f}")

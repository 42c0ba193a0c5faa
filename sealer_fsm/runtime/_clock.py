"""Time, injected: the runtime reads wall and monotonic time only through a Clock so tests control it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch, recorded in history."""

    def monotonic(self) -> float:
        """Seconds for measuring elapsed time."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

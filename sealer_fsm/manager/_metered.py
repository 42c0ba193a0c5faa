"""Counting every call a step makes to the sector manager, whichever implementation answers it.

The wrapper forwards each coroutine method and tells `observer.observe(method, ok, seconds)` how it went, so
the manager implementations stay free of metrics code and any manager (devnet, RPC client) is counted alike.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Protocol


class CallObserver(Protocol):
    def observe(self, method: str, ok: bool, seconds: float | None = None) -> None: ...


class MeteredManager:
    def __init__(self, inner: Any, observer: CallObserver) -> None:
        self._inner = inner
        self._observer = observer

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            ok = False
            try:
                result = await attribute(*args, **kwargs)
                ok = True
                return result
            finally:
                self._observer.observe(name, ok, time.perf_counter() - started)

        return counted

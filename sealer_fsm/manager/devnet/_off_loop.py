"""The devnet, run on its own thread so its synchronous work never stalls the worker's event loop.

The devnet's methods are coroutines only in name: they commit to SQLite (an fsync each) and generate deal data
and its CommP in Python. Called on the worker's loop, each call stalled every sealing thread for up to tens of
milliseconds. `OffLoopDevnet` runs every coroutine method of the devnet on one thread of its own (with its own
event loop, so the devnet's code is unchanged and its calls never interleave), and turns a database that cannot
be written into a `ManagerError`, which the steps retry like any unreachable manager.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import sqlite3
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sealer_fsm.manager._types import ManagerError
from sealer_fsm.manager.devnet._manager import DevnetManager
from sealer_fsm.store import StoreError

T = TypeVar("T")


class OffLoopDevnet:
    """A `SectorManager`: the wrapped devnet, answering from its own thread; other attributes pass through."""

    def __init__(self, inner: DevnetManager) -> None:
        self.inner = inner
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="devnet", daemon=True)
        self._thread.start()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if inspect.iscoroutinefunction(attribute):
            return self._off_loop(name, attribute)
        if callable(attribute):
            return self._on_devnet_thread(attribute)
        return attribute

    def _off_loop(self, name: str, method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> T:
            future = asyncio.run_coroutine_threadsafe(_as_manager_errors(name, method(*args, **kwargs)), self._loop)
            return await asyncio.wrap_future(future)

        return call

    def _on_devnet_thread(self, function: Callable[..., T]) -> Callable[..., T]:
        """A plain method (an inspection such as `sector_record`): run on the devnet thread, waited for."""

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> T:
            if threading.current_thread() is self._thread or not self._thread.is_alive():
                return function(*args, **kwargs)
            result: concurrent.futures.Future[T] = concurrent.futures.Future()

            def run() -> None:
                try:
                    result.set_result(function(*args, **kwargs))
                except BaseException as error:
                    result.set_exception(error)

            self._loop.call_soon_threadsafe(run)
            return result.result()

        return call

    def close(self) -> None:
        """Close the devnet's database on its thread, then stop the thread."""
        if self._thread.is_alive():
            self._on_devnet_thread(self.inner.close)()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()


async def _as_manager_errors(method: str, call: Coroutine[Any, Any, T]) -> T:
    try:
        return await call
    except (sqlite3.Error, StoreError, OSError) as error:
        raise ManagerError(f"devnet: {method} failed: cannot use devnet.db: {error}") from error

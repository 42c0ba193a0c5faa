"""The OS threads that run the steps' blocking work (`ctx.run_blocking`, plain-function steps).

A pool rather than a thread per call: starting a thread makes the caller wait until the new thread has run,
which on a busy host stalls the event loop for milliseconds. The pool grows when every thread is busy (so no
call ever queues behind another, as the sealing threads must not wait for each other) and keeps its idle threads
for the next calls. Its threads are daemons: work that ignores its cancel token cannot hold the process after a
drain.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Item = tuple[concurrent.futures.Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class BlockingPool:
    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by each thread while it waits for work
        self._started = 0
        self._lock = threading.Lock()

    def submit(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run `function(*args, **kwargs)` on a pool thread, in a copy of the caller's context."""
        work: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((work, contextvars.copy_context(), function, args, kwargs))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                self._started += 1
                number = self._started
            threading.Thread(target=self._serve, name=f"{self._name}-{number}", daemon=True).start()
        return work

    @property
    def threads(self) -> int:
        return self._started

    def _serve(self) -> None:
        while True:
            work, context, function, args, kwargs = self._queue.get()
            if work.set_running_or_notify_cancel():
                try:
                    result = context.run(function, *args, **kwargs)
                except BaseException as error:
                    work.set_exception(error)
                else:
                    work.set_result(result)
            del work, context, function, args, kwargs  # nothing of the last call outlives it
            self._idle.release()

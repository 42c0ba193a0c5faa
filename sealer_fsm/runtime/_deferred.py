"""Calls the worker owes another party and could not make yet (a ReportAborted while the manager is down).

A step that cannot make such a call hands it over (`ctx.defer`): it is stored durably, the step's task goes on
(an aborted task closes, its thread takes the next one), and the worker retries the call in the background every
`recover_interval` until it succeeds, including after a restart. What each kind of call does is registered by
whoever joins the runtime to that party (`Worker.handle_deferred`); the runtime only keeps and retries them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sealer_fsm.store import Deferred, StoreError

if TYPE_CHECKING:
    from sealer_fsm.runtime._worker import Worker

log = logging.getLogger("sealer_fsm.runtime")
DeferredHandler = Callable[[dict[str, Any]], Awaitable[None]]


class DeferredCalls:
    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._handlers: dict[str, DeferredHandler] = {}
        self._unhandled_warned: set[str] = set()
        self._wakeup = asyncio.Event()
        # The pending calls, read from the store once at start and kept in step with it after: the event loop
        # does not query the database while the worker runs.
        self._pending: dict[str, Deferred] = {}

    def handle(self, kind: str, handler: DeferredHandler) -> None:
        self._handlers[kind] = handler

    def wake(self) -> None:
        self._wakeup.set()

    def added(self, deferred: Deferred) -> None:
        """A call was just stored (after its commit): retry it with the others."""
        self._pending.setdefault(deferred.key, deferred)
        self._wakeup.set()

    async def run(self) -> None:
        """Retry every pending call now, then every recover_interval while any is pending, until the worker
        drains."""
        self._pending = {deferred.key: deferred for deferred in self._worker.store.deferred()}
        interval = max(self._worker.config.sealing.recover_interval, 0.01)
        while not self._worker.draining:
            await self.retry_all()
            self._wakeup.clear()
            if not self._pending:
                await self._wakeup.wait()  # nothing owed: sleep until a call is deferred (or a drain)
                continue
            timer = asyncio.get_running_loop().call_later(interval, self._wakeup.set)
            try:
                await self._wakeup.wait()
            finally:
                timer.cancel()

    async def retry_all(self) -> None:
        for deferred in list(self._pending.values()):
            if self._worker.draining:
                return
            await self._retry(deferred)

    async def _retry(self, deferred: Deferred) -> None:
        handler = self._handlers.get(deferred.kind)
        if handler is None:
            if deferred.kind not in self._unhandled_warned:
                self._unhandled_warned.add(deferred.kind)
                log.warning("deferred %s calls are kept but nothing can make them in this worker", deferred.kind)
            return
        try:
            await handler(deferred.payload)
        except Exception as error:  # the party is still unreachable, or refuses: keep it and try again later
            attempt = deferred.attempts + 1
            next_try = self._worker.clock.now() + self._worker.config.sealing.recover_interval
            log.warning(
                "%s failed (attempt %d): %s; next try at %s",
                deferred.key,
                attempt,
                error,
                datetime.datetime.fromtimestamp(next_try).strftime("%Y-%m-%d %H:%M:%S"),
            )
            self._pending[deferred.key] = dataclasses.replace(deferred, attempts=attempt, last_error=str(error))
            await self._settle(self._worker.store.deferred_failed(deferred.key, str(error)))
            return
        log.info("%s done after %d failed attempt(s)", deferred.key, deferred.attempts)
        self._pending.pop(deferred.key, None)
        await self._settle(self._worker.store.settle_deferred(deferred.key))

    @staticmethod
    async def _settle(commit: Awaitable[None]) -> None:
        try:
            await commit
        except StoreError as error:  # a full disk: the call stays pending and is retried (once more) later
            log.warning("cannot record a deferred call's outcome: %s", error)

"""The worker's WorkerPing: every `[worker] ping_interval` it tells its sector manager it is alive.

As the reference worker does: its name, the address of its control RPC (`dest`, how the manager's
`util worker` commands reach it), its version and a summary of its threads (empty, paused, running, waiting,
with errors). The manager keeps the last ping of each worker; `sealer-fsm devnet workers` lists them. A failed
ping is logged (once per interval of failures) and tried again at the next one; it never touches sealing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

from sealer_fsm import __version__
from sealer_fsm.manager import ManagerError, SectorManager, ThreadSummary, WorkerPing
from sealer_fsm.rpc import format_address
from sealer_fsm.runtime import ThreadInfo, ThreadState, Worker

log = logging.getLogger("sealer_fsm.heartbeat")


def thread_summary(threads: list[ThreadInfo]) -> ThreadSummary:
    """The reference's WorkerInfoSummary of a worker's threads."""
    return ThreadSummary(
        threads=len(threads),
        empty=sum(1 for info in threads if info.sector is None),
        paused=sum(1 for info in threads if info.thread_state is ThreadState.PAUSED),
        running=sum(1 for info in threads if info.thread_state is ThreadState.RUNNING),
        waiting=sum(1 for info in threads if info.thread_state is ThreadState.WAITING),
        errors=sum(1 for info in threads if info.last_error),
    )


def reachable_dest(control_host: str, control_port: int, manager_url: str | None) -> str:
    """`host:port` of the control RPC as the manager can reach it: the listening host, or for a wildcard
    listener (0.0.0.0, ::) the local address of the interface that leads to the manager, as the reference
    chooses it."""
    host = control_host
    if host in ("", "0.0.0.0", "::") and manager_url:
        manager_host = urlsplit(manager_url).hostname or "127.0.0.1"
        family = socket.AF_INET6 if ":" in manager_host else socket.AF_INET
        with suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((manager_host, 9))  # UDP: no packet is sent, the kernel only picks the route
            host = probe.getsockname()[0]
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    with suppress(ValueError):
        host = str(ipaddress.ip_address(host))
    return format_address(host, control_port)


class Heartbeat:
    def __init__(self, worker: Worker, manager: SectorManager, dest: str, interval: float) -> None:
        self._worker = worker
        self._manager = manager
        self._dest = dest
        self._interval = interval
        self._failing = False

    def ping(self) -> WorkerPing:
        return WorkerPing(self._worker.name, self._dest, __version__, thread_summary(self._worker.threads()))

    async def beat(self) -> None:
        """One ping; a failure is logged when pings start failing and when they work again, not each time."""
        try:
            await self._manager.worker_ping(self.ping())
        except ManagerError as error:
            if not self._failing:
                log.warning("WorkerPing failed (will keep trying every %gs): %s", self._interval, error)
            self._failing = True
            return
        if self._failing:
            log.info("WorkerPing reaches the sector manager again")
        self._failing = False

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:  # a bug here must not end the pings, nor reach the sealing threads
                log.exception("WorkerPing failed")
            await asyncio.sleep(self._interval)


@asynccontextmanager
async def heartbeat(worker: Worker, manager: SectorManager, dest: str) -> AsyncIterator[Heartbeat]:
    """Ping every `[worker] ping_interval` for as long as the block runs."""
    beats = Heartbeat(worker, manager, dest, worker.config.worker.ping_interval)
    task = asyncio.create_task(beats.run(), name="heartbeat")
    try:
        yield beats
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

"""WorkerPing: the thread summary the reference sends, the control address a manager can reach, and a ping loop
that survives an unreachable manager."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from sealer_fsm.heartbeat import Heartbeat, reachable_dest, thread_summary
from sealer_fsm.manager import ManagerError, ThreadSummary, WorkerPing
from sealer_fsm.runtime import ThreadInfo, ThreadState


def info(index: int, state: ThreadState, sector: str | None = None, error: str | None = None) -> ThreadInfo:
    return ThreadInfo(
        index=index, location=f"/t/{index}", plan="sealer", sector=sector, state=None, stage="-", simulated=False,
        thread_state=state, thread_state_elapsed=0.0, elapsed=0.0, retry=0, last_error=error,
        paused=state is ThreadState.PAUSED, pause_pending=False, task_id=None,
    )  # fmt: skip


def test_the_summary_counts_threads_as_the_reference_does() -> None:
    threads = [
        info(0, ThreadState.IDLE),
        info(1, ThreadState.RUNNING, "s-t01000-1"),
        info(2, ThreadState.PAUSED, "s-t01000-2", "permanent: x"),
        info(3, ThreadState.WAITING, "s-t01000-3"),
        info(4, ThreadState.RUNNING, "s-t01000-4", "temporary: y"),
    ]
    assert thread_summary(threads) == ThreadSummary(threads=5, empty=1, paused=1, running=2, waiting=1, errors=2)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1:17890"), ("10.1.2.3", "10.1.2.3:17890"), ("::1", "[::1]:17890")],
)
def test_a_specific_listen_address_is_the_dest(host: str, expected: str) -> None:
    assert reachable_dest(host, 17890, "http://192.0.2.1:1789/rpc/v0") == expected


def test_a_wildcard_listener_names_the_interface_that_leads_to_the_manager() -> None:
    assert reachable_dest("0.0.0.0", 17890, "http://127.0.0.1:1789/rpc/v0") == "127.0.0.1:17890"


class Manager:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.pings: list[WorkerPing] = []

    async def worker_ping(self, ping: WorkerPing) -> None:
        if self.failures:
            self.failures -= 1
            raise ManagerError("connection refused")
        self.pings.append(ping)


class Worker:
    name = "w1"

    def threads(self) -> list[ThreadInfo]:
        return [info(0, ThreadState.RUNNING, "s-t01000-1")]


def test_failed_pings_are_logged_once_and_pinging_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    manager = Manager(failures=3)
    beats = Heartbeat(Worker(), manager, "10.0.0.5:17890", interval=0.0)  # type: ignore[arg-type]

    async def five() -> None:
        for _ in range(5):
            await beats.beat()

    with caplog.at_level(logging.INFO, logger="sealer_fsm.heartbeat"):
        asyncio.run(five())
    assert len(manager.pings) == 2
    assert manager.pings[0].dest == "10.0.0.5:17890" and manager.pings[0].summary.running == 1
    messages = [record.getMessage() for record in caplog.records]
    assert sum("WorkerPing failed" in message for message in messages) == 1
    assert sum("reaches the sector manager again" in message for message in messages) == 1


def test_the_ping_carries_name_and_version() -> None:
    from sealer_fsm import __version__

    ping: Any = Heartbeat(Worker(), Manager(0), "d", 1.0).ping()  # type: ignore[arg-type]
    assert (ping.name, ping.version) == ("w1", __version__)

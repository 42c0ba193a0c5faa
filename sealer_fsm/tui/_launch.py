"""Starting the UI: in-process next to a running worker (`run --tui`), or attached to another process (`tui`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sealer_fsm.control import ControlClient
from sealer_fsm.runtime import Worker
from sealer_fsm.tui._app import SealerFsmApp
from sealer_fsm.tui._local import LocalController
from sealer_fsm.tui._remote import RemoteController

NO_TERMINAL = "the TUI needs an interactive terminal; in scripts use `sealer-fsm worker list`"


class NoTerminal(Exception):
    """Raised before anything starts when stdin or stdout is not a terminal; the message says what to use instead."""

    def __init__(self) -> None:
        super().__init__(NO_TERMINAL)


def require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise NoTerminal()


@contextmanager
def console_logging_detached() -> Iterator[None]:
    """Log lines written to the terminal would tear the UI apart; hold those handlers back while it runs."""
    root = logging.getLogger()
    detached = [
        handler
        for handler in root.handlers
        if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "isatty", lambda: False)()
    ]
    for handler in detached:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in detached:
            root.addHandler(handler)


async def run_tui_in_process(worker: Worker, *, refresh_interval: float = 1.0) -> None:
    """Run `worker` and its UI in this event loop; quitting the UI drains the worker, and a stopped worker ends the UI.

    Raises NoTerminal (before starting anything) when there is no interactive terminal.
    """
    require_terminal()
    app = SealerFsmApp(LocalController(worker), refresh_interval=refresh_interval)
    runner = asyncio.create_task(worker.run(), name="worker")
    runner.add_done_callback(lambda _: app.exit())
    with console_logging_detached():
        try:
            await app.run_async()
        finally:
            worker.drain()
            await runner


def run_tui_attached(address: str, *, token: str | None = None, refresh_interval: float = 1.0) -> None:
    """Watch the worker at `address` over its control RPC until the operator quits.

    An unreachable worker is not an error here: the UI says so and connects as soon as the worker answers.
    Raises NoTerminal (before starting anything) when there is no interactive terminal, and ControlClientError
    for an address that cannot be parsed.
    """
    require_terminal()
    with ControlClient(address, token=token) as client:
        SealerFsmApp(RemoteController(client), refresh_interval=refresh_interval).run()

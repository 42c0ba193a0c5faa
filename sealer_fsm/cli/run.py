"""`sealer-fsm run`: the worker's main job, sealing with the configured sector manager until drained.

SIGTERM and SIGINT drain the worker (no new tasks; running steps stop at their next checkpoint, or are cancelled
with their blocking work at `drain_timeout`) and the command exits 0, also when the signal arrives while the worker
is still starting. Services that run next to the worker (the control RPC server, the progress view) are
async context managers entered around `worker.run()`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry
from rich.console import Console

from sealer_fsm.assembly import UnknownStore, attached_stores, build_worker, check_stores_known, close_manager
from sealer_fsm.cli._common import CliError, Subparsers
from sealer_fsm.cli._logging import LEVELS, TUI_LOG_NAME, run_logging
from sealer_fsm.cli._progress import RunProgress
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.control import AddressError, ControlServer, ControlServerError, parse_address, start_control_server
from sealer_fsm.heartbeat import heartbeat, reachable_dest
from sealer_fsm.metrics import ManagerCallMetrics, WorkerMetrics
from sealer_fsm.plans import PlanError
from sealer_fsm.runtime import HomeError, HomeInUse, Worker
from sealer_fsm.store import StoreError

Service = Callable[[], AbstractAsyncContextManager[object]]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("run", help="run the sealing threads of a machine file")
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="machine file (TOML)")
    parser.add_argument("--home", metavar="DIR", help="the worker's home (default: var/<worker name>)")
    parser.add_argument(
        "--sectors", type=_positive, metavar="N", help="exit 0 once N sectors finished (aborted ones do not count)"
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="control RPC address (default: [worker.rpc_server] of the machine file, 127.0.0.1:17890)",
    )
    parser.add_argument("--tui", action="store_true", help="show the live terminal UI in this process")
    parser.add_argument(
        "--log-file",
        metavar="FILE",
        type=Path,
        help=f"write the log to FILE instead of the terminal (with --tui the default is <home>/{TUI_LOG_NAME})",
    )
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        type=str.upper,
        help="the least severe log lines written (default: INFO; WARNING above the live view of a terminal)",
    )
    parser.set_defaults(handler=_run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _EarlyStop:
    """SIGTERM and SIGINT handlers for start-up: a signal that arrives before the event loop runs is remembered
    and drains the worker as soon as it starts, instead of killing a half-started process."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._previous = {number: signal.signal(number, self._remember) for number in self.SIGNALS}

    def _remember(self, number: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _run(args: argparse.Namespace) -> int:
    early_stop = _EarlyStop()
    try:
        return _run_worker(args, early_stop)
    finally:
        early_stop.restore()


def _run_worker(args: argparse.Namespace, early_stop: _EarlyStop) -> int:
    try:
        config = load_machine_file(args.config, args.home)
        host, port = (None, None) if args.listen is None else parse_address(args.listen)
        registry = CollectorRegistry()
        worker = build_worker(config, manager_calls=ManagerCallMetrics(registry))
    except (ConfigError, PlanError, StoreError, AddressError, HomeInUse, HomeError) as error:
        raise CliError(str(error).replace("\n", "; ")) from error
    for warning in config.warnings:
        print(f"sealer-fsm: warning: {config.path}: {warning}", file=sys.stderr)
    metrics = WorkerMetrics(worker, registry) if config.metrics.enable else None
    progress = RunProgress(worker, args.sectors)
    control = functools.partial(_control_server, worker, host, port, metrics)
    # A terminal shows the live view (unless the TUI owns it); the log then goes above the view, or to a file.
    live_console = Console() if sys.stdout.isatty() and not args.tui else None
    log_file = args.log_file or (config.home / TUI_LOG_NAME if args.tui else None)
    level = args.log_level or ("WARNING" if live_console is not None and log_file is None else "INFO")
    try:
        with run_logging(level, log_file=log_file, live_console=live_console):
            _serve(args, worker, progress, control, live_console, early_stop)
    finally:
        _close(worker)
    print(progress.summary())
    return 0


def _serve(
    args: argparse.Namespace,
    worker: Worker,
    progress: RunProgress,
    control: Service,
    live_console: Console | None,
    early_stop: _EarlyStop,
) -> None:
    services: list[Service]
    if args.tui:
        # Imported here so that other commands do not pay for loading Textual.
        from sealer_fsm.tui import NoTerminal, require_terminal, run_tui_in_process

        try:
            require_terminal()
        except NoTerminal as error:
            raise CliError(str(error)) from error
        worker.add_listener(progress)  # counts sectors (and stops at --sectors) without drawing over the UI
        services = [control]
        main: Callable[[], Awaitable[None]] = functools.partial(run_tui_in_process, worker)
    else:
        # The control server first: a busy address is refused before anything else is printed.
        services, main = [control, lambda: progress.shown(live_console)], worker.run
    try:
        asyncio.run(serve(worker, services, main, early_stop=early_stop))
    except (ControlServerError, UnknownStore) as error:
        raise CliError(str(error)) from error


def _close(worker: Worker) -> None:
    """Let the store finish its writes and release the home. The manager link closed the manager in the event
    loop; a devnet is closed here as well (closing it twice is harmless) for a start-up that failed before."""
    worker.close()
    close = getattr(worker.services.manager, "close", None)
    if close is not None and not inspect.iscoroutinefunction(close):
        close()


@asynccontextmanager
async def _control_server(
    worker: Worker, host: str | None, port: int | None, metrics: WorkerMetrics | None
) -> AsyncIterator[None]:
    """The control RPC (and /metrics) for as long as the worker runs, and the sector manager's link: the
    WorkerPing naming the control address, then the manager's connections closed when the worker stops."""
    server = await start_control_server(worker, host, port, metrics=metrics)
    logging.getLogger("sealer_fsm.run").info("control RPC listening on %s", server.address)
    try:
        async with _manager_link(worker, server):
            yield
    finally:
        await server.close()


@asynccontextmanager
async def _manager_link(worker: Worker, server: ControlServer) -> AsyncIterator[None]:
    manager = worker.services.manager
    client = worker.config.sector_manager.rpc_client
    url = client.url if client is not None and worker.config.sector_manager.kind == "rpc" else None
    dest = reachable_dest(server.host, server.port, url)
    try:
        if url is not None:
            stores = [*attached_stores(worker.config), *attached_stores(worker.config, readonly=True)]
            await check_stores_known(manager, sorted(stores), url)
        async with heartbeat(worker, manager, dest):
            yield
    finally:
        await close_manager(manager)


async def serve(
    worker: Worker,
    services: Sequence[Service],
    main: Callable[[], Awaitable[None]],
    *,
    early_stop: _EarlyStop | None = None,
) -> None:
    """Run `main` (the worker, or the UI running it) with `services` around it until the worker is drained
    (by a signal, a listener or the UI). A signal already received during start-up drains at once."""
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, worker.drain)
    if early_stop is not None and early_stop.requested:
        worker.drain()
    async with AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service())
        await main()

"""`sealer-fsm run`: the worker's main job, sealing with the configured sector manager until drained.

SIGTERM and SIGINT drain the worker (no new tasks; running steps stop at their next checkpoint) and the
command exits 0. Services that run next to the worker (the control RPC server, the progress view) are
async context managers entered around `worker.run()`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from prometheus_client import CollectorRegistry

from sealer_fsm.assembly import UnknownStore, attached_stores, build_worker, check_stores_known, close_manager
from sealer_fsm.cli._common import CliError
from sealer_fsm.cli._progress import RunProgress
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.control import AddressError, ControlServer, ControlServerError, parse_address, start_control_server
from sealer_fsm.heartbeat import heartbeat, reachable_dest
from sealer_fsm.metrics import ManagerCallMetrics, WorkerMetrics
from sealer_fsm.plans import PlanError
from sealer_fsm.runtime import HomeInUse, Worker
from sealer_fsm.store import StoreError

Service = Callable[[], AbstractAsyncContextManager[object]]


def register(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(handler=_run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_machine_file(args.config, args.home)
        host, port = (None, None) if args.listen is None else parse_address(args.listen)
        registry = CollectorRegistry()
        worker = build_worker(config, manager_calls=ManagerCallMetrics(registry))
    except (ConfigError, PlanError, StoreError, AddressError, HomeInUse) as error:
        raise CliError(str(error).replace("\n", "; ")) from error
    for warning in config.warnings:
        print(f"sealer-fsm: warning: {config.path}: {warning}", file=sys.stderr)
    metrics = WorkerMetrics(worker, registry) if config.metrics.enable else None
    progress = RunProgress(worker, args.sectors)
    control = functools.partial(_control_server, worker, host, port, metrics)
    if args.tui:
        # Imported here so that other commands do not pay for loading Textual.
        from sealer_fsm.tui import NoTerminal, require_terminal, run_tui_in_process

        try:
            require_terminal()
        except NoTerminal as error:
            raise CliError(str(error)) from error
        worker.add_listener(progress)  # counts sectors (and stops at --sectors) without drawing over the UI
        services, main = [control], lambda: run_tui_in_process(worker)
    else:
        # The progress view comes first: it sets up the log output the control server reports its address on.
        services, main = [lambda: progress.shown(live=sys.stdout.isatty()), control], worker.run
    try:
        asyncio.run(serve(worker, services, main))
    except (ControlServerError, UnknownStore) as error:
        raise CliError(str(error)) from error
    print(progress.summary())
    return 0


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


async def serve(worker: Worker, services: Sequence[Service], main: Callable[[], Awaitable[None]]) -> None:
    """Run `main` (the worker, or the UI running it) with `services` around it until the worker is drained
    (by a signal, a listener or the UI)."""
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, worker.drain)
    async with AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service())
        await main()

"""`sealer-fsm devnet serve|workers|abort`: one devnet chain for many workers on many hosts (and, in
`_devnet_requests`, `rebuild|unseal|sectors` on the chain in a worker's home).

`serve` runs the devnet of a machine file as a server of the reference manager's `Venus.*` API; workers join it
with `[sector_manager] rpc_client.addr` pointing at it, as they would join a damocles-manager. `workers` lists the
workers it heard from (WorkerPing), `abort` drops a sector on the manager's side (as `damocles-manager util
sealer sectors abort` does): the worker sealing it aborts it at its next report. Both also work against a
damocles-manager. The token comes from SEALER_FSM_DEVNET_TOKEN (never from a flag, where `ps` would show it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from rich.table import Table

from sealer_fsm import __version__
from sealer_fsm.assembly import attached_stores, build_devnet
from sealer_fsm.cli import _devnet_requests
from sealer_fsm.cli._common import CliError, print_json, table_console
from sealer_fsm.config import ConfigError, MachineConfig, load_machine_file
from sealer_fsm.control import CA_ENV
from sealer_fsm.manager import ManagerError, SectorId, WorkerPingRecord
from sealer_fsm.manager.devnet import DevnetManager, DevnetServer, DevnetService
from sealer_fsm.manager.venus import RpcTransport, VenusClient
from sealer_fsm.pidlock import LockHeld, hold_pid_lock
from sealer_fsm.rpc import (
    AddressError,
    ServerLimits,
    ServerStartError,
    TlsFiles,
    is_loopback,
    manager_rpc_url,
    parse_address,
)
from sealer_fsm.store import StoreError

TOKEN_ENV = "SEALER_FSM_DEVNET_TOKEN"
T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("devnet", help="serve one devnet chain to many workers; list them")
    commands = parser.add_subparsers(dest="devnet_command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve a machine file's devnet on the Venus.* API (/rpc/v0)")
    serve.add_argument("-c", "--config", required=True, metavar="FILE", help="machine file with the devnet")
    serve.add_argument("--home", metavar="DIR", help="where devnet.db lives (default: var/<worker name>)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: [devnet_server] listen, 127.0.0.1:1789")
    serve.set_defaults(handler=_serve)

    workers = commands.add_parser("workers", help="the workers a manager heard from, with their last ping")
    _add_host(workers)
    workers.add_argument("--json", action="store_true", help="print JSON")
    workers.set_defaults(handler=_workers)

    abort = commands.add_parser("abort", help="drop a sector on the manager's side; its worker aborts it")
    _add_host(abort)
    abort.add_argument("sector", help="s-t0<miner>-<number>")
    abort.add_argument("--reason", default="aborted via CLI", help="recorded as the abort reason")
    abort.add_argument("--json", action="store_true", help="print the result as JSON")
    abort.set_defaults(handler=_abort)

    _devnet_requests.register(commands)  # rebuild, unseal, sectors: on the chain in a worker's home


def _add_host(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        required=True,
        metavar="ADDR",
        help=f"the manager: HOST:PORT, http(s)://HOST:PORT or a multiaddr (token from ${TOKEN_ENV})",
    )


# -- serve --------------------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    try:
        config = load_machine_file(args.config, args.home, require_threads=False)
        if config.sector_manager.kind != "devnet":
            raise CliError(f"{config.path}: [sector_manager] is not a devnet (kind = {config.sector_manager.kind!r})")
        listen = args.listen or config.devnet_server.listen
        host, port = parse_address(listen)
    except (ConfigError, AddressError) as error:
        raise CliError(str(error)) from error
    token = os.environ.get(TOKEN_ENV) or config.devnet_server.token
    if not is_loopback(host) and not token:
        raise CliError(
            f"the devnet would listen on {host}, beyond loopback, without a token:"
            f" set [devnet_server] token in the machine file or {TOKEN_ENV}"
        )
    config.home.mkdir(parents=True, exist_ok=True)
    lock = _lock_home(config.home)
    try:
        devnet = build_devnet(config)
    except (StoreError, OSError) as error:
        lock.close()
        raise CliError(f"cannot open the devnet in {config.home}: {error}") from error
    try:
        if devnet.proof_type is None:
            raise CliError(
                f"{config.path}: [sector_manager.devnet] sector_size {config.sector_manager.devnet.sector_size} has no"
                " seal proof type, which the Venus API needs (use 2KiB, 8MiB, 512MiB, 32GiB or 64GiB)"
            )
        asyncio.run(_run_server(config, devnet, host, port, token))
    except ServerStartError as error:
        raise CliError(str(error)) from error
    finally:
        devnet.close()
        lock.close()
    return 0


def _lock_home(home: Path) -> TextIO:
    """One server per devnet home: a second one would hand out the same sector numbers."""
    try:
        return hold_pid_lock(home / "devnet.lock")
    except LockHeld as held:
        raise CliError(f"another devnet server (pid {held.holder}) serves home {home}") from None


async def _run_server(config: MachineConfig, devnet: DevnetManager, host: str, port: int, token: str | None) -> None:
    settings = config.devnet_server
    tls = None
    if settings.tls_cert and settings.tls_key:
        tls = TlsFiles(config.resolve(settings.tls_cert), config.resolve(settings.tls_key))
    server = DevnetServer(
        DevnetService(devnet, __version__), token, ServerLimits(max_connections=settings.max_connections)
    )
    await server.start(host, port, tls)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    chain = config.sector_manager.devnet
    scheme = "https" if server.tls else "http"
    stores = ", ".join(sorted(attached_stores(config))) or "none"
    print(
        f"devnet listening on {scheme}://{server.address}/rpc/v0 (miner {chain.miner}, {chain.sector_size}-byte"
        f" sectors, stores: {stores}; a simulated chain)",
        flush=True,
    )
    try:
        await stopped.wait()
    finally:
        await server.close()


# -- clients ------------------------------------------------------------------------------------------------


def _client(address: str) -> VenusClient:
    """A Venus client for a command: one try, no retries (an operator wants the answer or the error now)."""
    try:
        url = manager_rpc_url(address if "://" in address or address.startswith("/") else f"http://{address}")
    except AddressError as error:
        raise CliError(str(error)) from error
    token = os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return VenusClient(RpcTransport(url, headers=headers, timeout=10.0, retry_for=0.0, ca_file=os.environ.get(CA_ENV)))


def _ask(address: str, request: Callable[[VenusClient], Awaitable[T]]) -> T:
    async def run() -> T:
        client = _client(address)
        try:
            return await request(client)
        finally:
            await client.close()

    try:
        return asyncio.run(run())
    except ManagerError as error:
        raise CliError(f"{address}: {error}") from error


def _workers(args: argparse.Namespace) -> int:
    records = _ask(args.host, lambda client: client.worker_pings())
    now = time.time()
    if args.json:
        print_json([_record_json(record, now) for record in records])
        return 0
    table = Table("Name", "Dest", "Version", "Threads", "Empty", "Paused", "Running", "Waiting", "Errors", "LastPing")
    for record in records:
        ping, summary = record.ping, record.ping.summary
        counts = (summary.threads, summary.empty, summary.paused, summary.running, summary.waiting, summary.errors)
        table.add_row(ping.name, ping.dest, ping.version, *map(str, counts), _age(now - record.last_ping))
    table_console().print(table)
    if not records:
        print("no worker has pinged this manager yet", file=sys.stderr)
    return 0


def _record_json(record: WorkerPingRecord, now: float) -> dict[str, Any]:
    summary = record.ping.summary
    return {
        "name": record.ping.name,
        "dest": record.ping.dest,
        "version": record.ping.version,
        "summary": {
            "threads": summary.threads,
            "empty": summary.empty,
            "paused": summary.paused,
            "running": summary.running,
            "waiting": summary.waiting,
            "errors": summary.errors,
        },
        "last_ping": record.last_ping,
        "seconds_since_last_ping": max(0, round(now - record.last_ping)),
    }


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60}m ago"


def _abort(args: argparse.Namespace) -> int:
    try:
        sector = SectorId.parse(args.sector)
    except ValueError as error:
        raise CliError(f"{args.sector!r} is not a sector name like s-t01000-5") from error
    _ask(args.host, lambda client: client.report_aborted(sector, args.reason))
    if args.json:
        print_json({"sector": sector.name, "aborted": True, "reason": args.reason})
    else:
        print(f"{sector.name} aborted on the manager ({args.reason}); its worker drops it at its next report")
    return 0

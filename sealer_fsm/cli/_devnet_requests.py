"""`sealer-fsm devnet rebuild|unseal|sectors`: the operator's side of the devnet's rebuild and unseal service.

They work on the devnet's chain in a worker's home (`devnet.db`), worker running or not: SQLite lets the CLI and
a worker (or `devnet serve`) use the database at once. `rebuild` marks a finished sector lost (its files leave
every attached store) and queues it for a rebuild thread; `unseal` queues a deal piece for an unseal thread, to a
destination URL; `sectors` lists the chain's view of its sectors and of those requests.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.table import Table

from sealer_fsm.assembly import attached_stores
from sealer_fsm.cli._common import CliError, print_json, table_console
from sealer_fsm.cli.sectors import _short
from sealer_fsm.config import ConfigError, MachineConfig, load_machine_file
from sealer_fsm.manager import SectorId
from sealer_fsm.manager.devnet import DATABASE_NAME, DevnetManager
from sealer_fsm.manager.devnet._db import DevnetDatabase
from sealer_fsm.manager.devnet._view import chain_view


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the three commands to the `devnet` group."""
    rebuild = commands.add_parser("rebuild", help="mark a finished sector lost and queue it for a rebuild thread")
    rebuild.add_argument("sector", metavar="SECTOR", help="s-t0<miner>-<number>")
    _add_machine_arguments(rebuild, required=True)
    rebuild.set_defaults(handler=_rebuild)

    unseal = commands.add_parser("unseal", help="queue a deal piece of a finished sector for an unseal thread")
    unseal.add_argument("sector", metavar="SECTOR", help="s-t0<miner>-<number>")
    unseal.add_argument("piece_cid", metavar="PIECE_CID", help="the deal's piece CID")
    unseal.add_argument("--dest", required=True, metavar="URL", help="file:///PATH, store://STORE/PATH or http(s)://")
    _add_machine_arguments(unseal, required=True)
    unseal.set_defaults(handler=_unseal)

    sectors = commands.add_parser("sectors", help="the chain's view of its sectors, rebuilds and unseals")
    _add_machine_arguments(sectors, required=False)
    sectors.set_defaults(handler=_sectors)


def _add_machine_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    stores = " (its [[attached]] stores hold the sectors' files)" if required else ""
    parser.add_argument("-c", "--config", required=required, metavar="FILE", help=f"the machine file{stores}")
    parser.add_argument("--home", metavar="DIR", help="the worker's home, where devnet.db lives")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _sector(text: str) -> SectorId:
    try:
        return SectorId.parse(text)
    except ValueError:
        raise CliError(f"{text!r} is not a sector name like s-t01000-5") from None


def _machine(args: argparse.Namespace) -> MachineConfig:
    try:
        config = load_machine_file(args.config, args.home, require_threads=False)
    except ConfigError as error:
        raise CliError(str(error)) from error
    if config.sector_manager.kind != "devnet":
        raise CliError(
            f"{config.path}: the sector manager is not this worker's devnet (kind = {config.sector_manager.kind!r});"
            " ask that manager for rebuilds and unseals"
        )
    return config


def _existing_database(home: Path) -> Path:
    path = home / DATABASE_NAME
    if not path.is_file():
        raise CliError(f"there is no devnet chain in {home} (no {DATABASE_NAME}); run a worker there first")
    return path


@contextmanager
def _devnet(config: MachineConfig) -> Iterator[DevnetManager]:
    _existing_database(config.home)
    try:
        devnet = DevnetManager(
            config.sector_manager.devnet,
            config.home,
            attached_stores(config),
            readonly_stores=attached_stores(config, readonly=True),
        )
    except (sqlite3.Error, OSError) as error:
        raise CliError(f"cannot open the devnet in {config.home}: {error}") from error
    try:
        yield devnet
    except (sqlite3.Error, OSError) as error:
        raise CliError(f"the devnet in {config.home}: {error}") from error
    except ValueError as error:  # the request itself, in one sentence
        raise CliError(str(error)) from error
    finally:
        devnet.close()


def _rebuild(args: argparse.Namespace) -> int:
    sector = _sector(args.sector)
    with _devnet(_machine(args)) as devnet:
        removed = devnet.request_rebuild(sector)
    if args.json:
        print_json({"id": sector.name, "status": "queued", "removed": [str(path) for path in removed]})
        return 0
    lost = f"removed {', '.join(map(str, removed))}" if removed else "no files of it were left in the stores"
    print(f"{sector.name} is lost ({lost}); queued for a rebuild thread (plan rebuild)")
    return 0


def _unseal(args: argparse.Namespace) -> int:
    sector = _sector(args.sector)
    with _devnet(_machine(args)) as devnet:
        request = devnet.request_unseal(sector, args.piece_cid, args.dest)
    if args.json:
        print_json(request)
        return 0
    dests = ", ".join(request["dests"])
    print(f"unseal of {args.piece_cid} from {sector.name} queued for an unseal thread (plan unseal), to {dests}")
    return 0


def _sectors(args: argparse.Namespace) -> int:
    if args.config is not None:
        home = _machine(args).home
    elif args.home is not None:
        home = Path(args.home)
    else:
        raise CliError("say where the devnet lives: -c MACHINE_FILE or --home DIR")
    path = _existing_database(home)
    try:
        database = DevnetDatabase(path)
        try:
            views = chain_view(database)
        finally:
            database.close()
    except (sqlite3.Error, OSError) as error:
        raise CliError(f"cannot read the devnet chain {path}: {error}") from error
    if args.json:
        print_json(views)
        return 0
    table_console().print(_table(views))
    return 0


def _table(views: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(views)} sectors on the devnet chain (a simulated chain)", title_justify="left")
    for column in ("sector", "state", "CommD", "CommR", "pieces", "upgraded", "store", "rebuild", "unseals"):
        table.add_column(column, overflow="fold")
    for view in views:
        upgrade = view["upgrade"]
        rebuild = view["rebuild"]
        unseals = ", ".join(f"{_short(u['piece_cid'])} {u['status']}" for u in view["unseals"]) or "-"
        table.add_row(
            view["id"],
            view["state"],
            _short(view["comm_d"]),
            _short(view["comm_r"]),
            _pieces(view["pieces"]),
            "no" if upgrade is None else f"yes: {_pieces(upgrade['pieces'])}",
            view["persisted"] or "-",
            "-" if rebuild is None else rebuild["status"],
            unseals,
        )
    return table


def _pieces(pieces: list[dict[str, Any]]) -> str:
    """ "1 deal + 2 pledge" (pledge pieces are the zeros filling the sector around the deals)."""
    if not pieces:
        return "-"
    deals = sum(piece["deal_id"] is not None for piece in pieces)
    return f"{deals} deal{'s' * (deals != 1)} + {len(pieces) - deals} pledge"

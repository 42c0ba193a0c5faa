"""`sealer-fsm sectors list|history`: read the worker's task store directly, running or not.

The store is opened read-only (SQLite WAL lets a reader see every committed change while the worker writes).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from sealer_fsm.cli._common import CliError, print_json, table_console
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.store import StoreError, TaskRecord, TaskStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sectors", help="list sectors and their history from the worker's store")
    commands = parser.add_subparsers(dest="sectors_command", required=True, metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="one line per task (sector), newest last")
    _add_location_arguments(listing)
    listing.set_defaults(handler=_list)

    history = commands.add_parser("history", help="every applied event of a sector")
    history.add_argument("sector", metavar="SECTOR", help="a sector name such as s-t01000-5")
    _add_location_arguments(history)
    history.set_defaults(handler=_history)


def _add_location_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", metavar="FILE", help="machine file (its home holds the store)")
    where.add_argument("--home", metavar="DIR", help="the worker's home directory")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _open_store(args: argparse.Namespace) -> TaskStore:
    if args.home is not None:
        home = Path(args.home)
    elif args.config is not None:
        try:
            home = load_machine_file(args.config).home
        except ConfigError as error:
            raise CliError(str(error)) from error
    else:
        raise CliError("say where the worker lives: -c MACHINE_FILE or --home DIR")
    try:
        return TaskStore.in_home(home, readonly=True)
    except StoreError as error:
        raise CliError(str(error)) from error


def _short(cid: str | None) -> str:
    """A CID shortened for a table cell; `--json` gives the full value."""
    if cid is None:
        return "-"
    return cid if len(cid) <= 24 else f"{cid[:14]}…{cid[-8:]}"


def _time(at: float | None) -> str:
    return "-" if at is None else datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _task_json(task: TaskRecord) -> dict[str, Any]:
    """The `sectors list --json` shape: the task row and the commitments its steps stored."""
    return {
        "sector": task.sector,
        "plan": task.plan,
        "state": task.state,
        "thread": task.thread,
        "paused": task.paused,
        "last_error": task.last_error,
        "retry": task.retry,
        "comm_d": task.data.get("comm_d_cid"),
        "comm_r": task.data.get("comm_r_cid"),
    }


def _list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    tasks = store.tasks()
    if args.json:
        print_json([_task_json(task) for task in tasks])
        return 0
    table = Table(title_justify="left", title=f"{len(tasks)} tasks")
    for column in ("sector", "plan", "state", "thread", "paused", "retry"):
        table.add_column(column, no_wrap=True)
    for column in ("CommD", "CommR", "last error"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        row = _task_json(task)
        comm_r = _short(row["comm_r"])
        if row["comm_r"] and task.data.get("comm_r_simulated"):
            comm_r += " (simulated)"
        table.add_row(
            row["sector"] or "-",
            row["plan"],
            row["state"],
            str(row["thread"]),
            "yes" if row["paused"] else "",
            str(row["retry"]),
            _short(row["comm_d"]),
            comm_r,
            row["last_error"] or "",
        )
    table_console().print(table)
    return 0


def _history(args: argparse.Namespace) -> int:
    store = _open_store(args)
    tasks = store.tasks_for_sector(args.sector)
    if not tasks:
        raise CliError(f"no sector {args.sector!r} in {store.path}")
    entries = [entry for task in tasks for entry in store.history(task.id)]
    if args.json:
        print_json([entry.to_json() for entry in entries])
        return 0
    table = Table(title=f"history of {args.sector}", title_justify="left")
    for column in ("seq", "at", "from", "event", "to"):
        table.add_column(column, no_wrap=True)
    for column in ("failure", "data"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            str(entry.seq),
            _time(entry.at),
            entry.from_state,
            entry.event or "-",
            entry.to_state,
            entry.failure or "",
            entry.payload or "",
        )
    table_console().print(table)
    return 0

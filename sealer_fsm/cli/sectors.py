"""`sealer-fsm sectors list|history`: read the worker's task store directly, running or not.

The store is opened read-only (SQLite WAL lets a reader see every committed change while the worker writes).
A sector may have several tasks (sealed by `sealer`, later upgraded by `snapup`); every row says which task
and plan it belongs to.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from sealer_fsm.cli._common import CliError, Subparsers, add_json_argument, print_json, table_console
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.plans import ABORT_STATE, STATE_ALIASES
from sealer_fsm.store import HistoryEntry, StoreError, TaskRecord, TaskStore


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("sectors", help="list sectors and their history from the worker's store")
    commands = parser.add_subparsers(dest="sectors_command", required=True, metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="one line per task (sector), newest last")
    listing.add_argument("--state", help="only tasks in this state (Aborted is accepted for Abort)")
    listing.add_argument("--plan", help="only tasks of this plan")
    listing.add_argument("--paused", action="store_true", help="only paused tasks")
    _add_location_arguments(listing)
    listing.set_defaults(handler=_list)

    history = commands.add_parser("history", help="every applied event of a sector, task by task")
    history.add_argument("sector", metavar="SECTOR", help="a sector name such as s-t01000-5, or just its number (5)")
    _add_location_arguments(history)
    history.set_defaults(handler=_history)


def _add_location_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", metavar="FILE", help="machine file (its home holds the store)")
    where.add_argument("--home", metavar="DIR", help="the worker's home directory")
    add_json_argument(parser)


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


def _row(task: TaskRecord) -> dict[str, Any]:
    """The task row and the commitments its steps stored."""
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


def by_whom(entry: HistoryEntry) -> str:
    """`step`, `operator`, or `operator: <reason>`."""
    return entry.actor if not entry.reason else f"{entry.actor}: {entry.reason}"


def is_simulated(task: TaskRecord) -> bool:
    """Whether any of the task's data so far came from a simulated step (their outputs say so themselves)."""
    return bool(task.data.get("comm_r_simulated")) or any(
        isinstance(value, dict) and value.get("simulated") for value in task.data.values()
    )


def abort_cause(store: TaskStore, task: TaskRecord) -> str | None:
    """Why an aborted task was aborted: the failure that aborted it, or who aborted it and why."""
    move = store.last_move(task.id)
    if move is None or move.to_state != ABORT_STATE:
        return None
    if move.failure:
        return f"aborted: {move.failure}"
    return f"aborted by {by_whom(move)}"


def task_json(store: TaskStore, task: TaskRecord) -> dict[str, Any]:
    """The store's row, plus the task's id, whether it is simulated, and a last error that explains the task as it
    is now: why it was aborted, and none for a finished one (a failure it recovered from is in its history)."""
    row = {"task": task.id, **_row(task), "simulated": is_simulated(task), "closed": task.closed_at is not None}
    if task.state == ABORT_STATE:
        row["last_error"] = abort_cause(store, task) or task.last_error
    elif task.closed_at is not None:
        row["last_error"] = None
    return row


def _matches(args: argparse.Namespace, task: TaskRecord) -> bool:
    state = STATE_ALIASES.get(args.state, args.state) if args.state else None
    return (
        (state is None or task.state == state)
        and (args.plan is None or task.plan == args.plan)
        and (not args.paused or task.paused)
    )


def _list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    tasks = [task for task in store.tasks() if _matches(args, task)]
    rows = [task_json(store, task) for task in tasks]
    if args.json:
        print_json(rows)
        return 0
    table = Table(title_justify="left", title=f"{len(rows)} tasks")
    for column in ("task", "sector", "plan", "state", "thread", "paused", "retry"):
        table.add_column(column, no_wrap=True)
    for column in ("CommD", "CommR", "last error"):
        table.add_column(column, overflow="fold")
    for task, row in zip(tasks, rows, strict=True):
        comm_r = _short(row["comm_r"])
        if row["comm_r"] and task.data.get("comm_r_simulated"):
            comm_r += " (simulated)"
        table.add_row(
            str(row["task"]),
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


def resolve_sector(store: TaskStore, typed: str) -> str:
    """The sector `typed` names: a full name, or a number that is unambiguous among the stored sectors."""
    if not typed.isdigit():
        return typed
    matches = sorted({task.sector for task in store.tasks() if task.sector and task.sector.rsplit("-", 1)[-1] == typed})
    if len(matches) > 1:
        raise CliError(f"sector number {typed} is ambiguous: {', '.join(matches)}; give the full name")
    if not matches:
        raise CliError(f"no sector numbered {typed} in {store.path}")
    return matches[0]


def _history(args: argparse.Namespace) -> int:
    store = _open_store(args)
    sector = resolve_sector(store, args.sector)
    tasks = store.tasks_for_sector(sector)
    if not tasks:
        raise CliError(f"no sector {sector!r} in {store.path}")
    rows = [(task, entry) for task in tasks for entry in store.history(task.id)]
    if args.json:
        print_json([{"task": task.id, "plan": task.plan, **entry.to_json()} for task, entry in rows])
        return 0
    tasks_text = ", then ".join(f"task {task.id} ({task.plan})" for task in tasks)
    print(f"history of {sector}: {tasks_text}")
    table = Table(title_justify="left")
    for column in ("task", "plan", "seq", "at", "from", "event", "to"):
        table.add_column(column, no_wrap=True)
    for column in ("failure", "by", "data"):
        table.add_column(column, overflow="fold")
    for task, entry in rows:
        table.add_row(
            str(task.id),
            task.plan,
            str(entry.seq),
            _time(entry.at),
            entry.from_state,
            entry.event or "-",
            entry.to_state,
            entry.failure or "",
            by_whom(entry),
            entry.payload or "",
        )
    table_console().print(table)
    return 0

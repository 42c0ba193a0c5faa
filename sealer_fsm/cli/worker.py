"""`sealer-fsm worker list|pause|resume|history`: operate the threads of a running worker over its control RPC."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from rich.table import Table

from sealer_fsm.cli._common import Subparsers, print_json, table_console
from sealer_fsm.cli._remote import add_host_argument, connect, remote_call
from sealer_fsm.units import format_duration
from sealer_fsm.wording import refused_plan_edit

LIST_COLUMNS = ("#", "location", "Plan", "JobID", "JobState", "JobStage", "ThreadState", "LastErr", "Elapsed", "Retry")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("worker", help="list, pause and resume the threads of a running worker")
    commands = parser.add_subparsers(dest="worker_command", required=True, metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="one row per sealing thread")
    listing.set_defaults(handler=_list)

    pause = commands.add_parser("pause", help="pause a thread at its next checkpoint")
    pause.add_argument("-i", "--index", type=int, required=True, help="thread index")
    pause.add_argument("--now", action="store_true", help="also cancel the running step (it runs again on resume)")
    pause.set_defaults(handler=_pause)

    resume = commands.add_parser("resume", help="resume a paused thread, optionally into another state")
    resume.add_argument("-i", "--index", type=int, required=True, help="thread index")
    resume.add_argument("-s", "--state", help="state to jump to (Abort/Aborted drops the sector)")
    resume.add_argument("--force", action="store_true", help="jump even when the state's required data is missing")
    resume.add_argument("--reason", help="why, recorded in the task's history")
    resume.set_defaults(handler=_resume)

    history = commands.add_parser("history", help="the history of a thread's current task")
    history.add_argument("-i", "--index", type=int, required=True, help="thread index")
    history.set_defaults(handler=_history)

    for command in (listing, pause, resume, history):
        add_host_argument(command)
        command.add_argument("--json", action="store_true", help="machine-readable output")


def thread_state_text(thread_state: dict[str, Any], waiting_for: str | None = None) -> str:
    """The reference's display form: `Idle`, `Paused(17s)`, `Running(1h 2m 0s)`; a waiting thread says what
    for: `Waiting(5s) for pc1 slot (2/2 busy)`."""
    state = str(thread_state.get("state", "?"))
    if "elapsed" in thread_state:
        state = f"{state}({format_duration(thread_state['elapsed'])})"
    return f"{state} for {waiting_for}" if waiting_for else state


def _list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        threads = remote_call(client, "VenusWorker.WorkerList")
        info = remote_call(client, "SealerFsm.Info")
    warnings = [refused_plan_edit(path, faults) for path, faults in sorted(info.get("plan_warnings", {}).items())]
    if args.json:
        print_json(threads)
        for warning in warnings:  # on stderr, so that the JSON stays the reference's WorkerInfo list
            print(warning, file=sys.stderr)
        return 0
    table = Table(*LIST_COLUMNS, box=None, pad_edge=False)
    for info in threads:
        table.add_row(
            str(info["index"]),
            info["location"],
            info["plan"],
            info["job_id"] or "-",
            info["job_state"] or "-",
            info["job_stage"] + (" (simulated)" if info.get("simulated") else ""),
            thread_state_text(info["thread_state"], info.get("waiting_for")),
            info["last_error"] or "-",
            format_duration(info["elapsed"]) if info["job_id"] else "-",
            str(info["retry"]),
        )
    table_console(width=200).print(table)
    for warning in warnings:
        print(warning)
    return 0


def _pause(args: argparse.Namespace) -> int:
    with connect(args) as client:
        queued = remote_call(client, "SealerFsm.Pause", args.index, args.now)
    if args.json:
        print_json(queued)
    elif queued:
        print(f"thread {args.index}: pause requested" + (" (running step cancelled)" if args.now else ""))
    else:
        print(f"thread {args.index}: already paused, or a pause is already pending")
    return 0


def _resume(args: argparse.Namespace) -> int:
    with connect(args) as client:
        resumed = remote_call(client, "SealerFsm.Resume", args.index, args.state, args.force, args.reason)
    if args.json:
        print_json(resumed)
    else:
        print(f"thread {args.index}: resumed" + (f" into {args.state}" if args.state else ""))
    return 0


def _history(args: argparse.Namespace) -> int:
    with connect(args) as client:
        history = remote_call(client, "SealerFsm.History", args.index)
    if args.json:
        print_json(history)
        return 0
    if history["task_id"] is None:
        print(f"thread {args.index} has no task")
        return 0
    sector = history["sector"] or "no sector yet"
    # The title on its own line: as the table's title it would wrap at the width of the table's columns.
    print(f"thread {args.index}: task {history['task_id']} ({sector}, plan {history['plan']})")
    table = Table("time", "from", "event", "to", "failure", "by", box=None)
    for entry in history["entries"]:
        actor = entry.get("actor", "")
        if entry.get("reason"):
            actor = f"{actor}: {entry['reason']}"
        table.add_row(
            datetime.fromtimestamp(entry["at"]).strftime("%Y-%m-%d %H:%M:%S"),
            entry["from"],
            entry["event"] or "-",
            entry["to"],
            entry["failure"] or "",
            actor,
        )
    table_console(width=200).print(table)
    return 0

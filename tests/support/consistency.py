"""The two parties agree, checked from their databases and the disk after any crash or run (issue 10)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sealer_fsm.store import TaskStore

SECTOR_FILES = ("unsealed", "sealed", "cache", "update", "update-cache")


def devnet_rows(home: Path, table: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{home / 'devnet.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()


def check_both_databases(home: Path, locations: list[Path], stores: list[Path]) -> dict[str, int]:
    """Every allocated sector is finished, aborted and reported, or owned by an open task; nothing accepted twice;
    no file of a sector nobody works on in the threads' locations or the stores. Returns counts for the caller."""
    store = TaskStore.in_home(home, readonly=True)
    try:
        tasks = store.tasks()
        history = {task.id: store.history(task.id) for task in tasks}
        deferred = {entry.key for entry in store.deferred()}
    finally:
        store.close()
    sectors = devnet_rows(home, "sectors")
    # The open tasks working on each sector (a finished sealer task not yet closed and the snapup task upgrading
    # its sector may both be open). A sector the manager allocated for a request an open task stored is that
    # task's: it gets the sector on its next ask.
    owners: dict[str, list[Any]] = {}
    requests = {task.data.get("allocation_request"): task for task in tasks if task.closed_at is None}
    for task in tasks:
        if task.closed_at is None and task.sector:
            owners.setdefault(task.sector, []).append(task)
    for row in sectors:
        for column in ("request_id", "snap_request_id"):
            task = requests.get(row[column]) if row[column] is not None else None
            if task is not None and task.sector is None:
                owners.setdefault(f"s-t0{row['miner']}-{row['number']}", []).append(task)
    closed = [task for task in tasks if task.closed_at is not None]
    name = {row["number"]: f"s-t0{row['miner']}-{row['number']}" for row in sectors}

    for row in sectors:
        sector = name[row["number"]]
        working = owners.get(sector, [])
        reported = f"ReportAborted {sector}" in deferred
        if row["status"] == "finalized" and row["snapup"] in (None, "upgraded", "aborted"):
            assert any(task.sector == sector and task.state == "Finished" for task in closed) or working, sector
        elif row["status"] == "aborted":
            going_on = [task.id for task in working if task.state != "Abort"]
            assert not going_on, f"{sector} aborted on chain but tasks {going_on} go on"
        elif row["snapup"] == "allocated":
            mine = [(task.id, task.plan, task.state, task.closed_at is None) for task in tasks if task.sector == sector]
            assert any(task.plan == "snapup" for task in working) or reported, (
                f"upgrade of {sector} has no open snapup task (tasks: {mine}, request {row['snap_request_id']})"
            )
        else:
            assert working or reported, f"{sector} ({row['status']}) allocated but no task owns it"
    for task in tasks:
        if task.sector is not None and task.plan == "sealer":
            number = int(task.sector.rsplit("-", 1)[1])
            assert number in name, f"task {task.id} holds {task.sector}, unknown to the devnet"
        if task.state == "Abort" and task.closed_at is not None and task.sector is not None:
            row = next(row for row in sectors if name[row["number"]] == task.sector)
            dropped = row["status"] == "aborted" or row["snapup"] == "aborted"
            assert dropped or f"ReportAborted {task.sector}" in deferred, f"abort of {task.sector} never reported"

    _check_accepted_once(tasks, history, devnet_rows(home, "submissions"))
    _check_files(locations, stores, tasks, sectors, name)
    return {
        "sectors": len(sectors),
        "finished": sum(1 for task in closed if task.state == "Finished"),
        "aborted": sum(1 for task in closed if task.state == "Abort"),
        "open": sum(1 for task in tasks if task.closed_at is None),
    }


def _check_accepted_once(tasks: list[Any], history: dict[int, list[Any]], submissions: list[dict[str, Any]]) -> None:
    accepted: dict[tuple[int, str], int] = {}
    for submission in submissions:
        if submission["result"] == "ACCEPTED":
            key = (submission["sector"], submission["kind"])
            accepted[key] = accepted.get(key, 0) + 1
    resubmits: dict[tuple[int, str], int] = {}
    for task in tasks:
        number = task.data.get("number")
        for entry in history[task.id]:
            kind = {"ReSubmitPC": "precommit", "ReSubmitProof": "proof"}.get(entry.event or "")
            if kind:
                resubmits[number, kind] = resubmits.get((number, kind), 0) + 1
    for (number, kind), count in accepted.items():
        allowed = 1 if kind == "snapup" else 1 + resubmits.get((number, kind), 0)
        assert count <= allowed, f"sector {number}: {kind} accepted {count} times, {allowed - 1} resubmissions"


def _check_files(
    locations: list[Path], stores: list[Path], tasks: list[Any], sectors: list[dict[str, Any]], name: dict[int, str]
) -> None:
    open_on_thread = {task.thread: task.sector for task in tasks if task.closed_at is None}
    for index, location in enumerate(locations):
        for kind in SECTOR_FILES:
            for entry in sorted((location / "data" / kind).glob("*")):
                owner = open_on_thread.get(index)
                assert owner and entry.name in (owner, f"{owner}.tmp"), f"orphan {entry} (thread works on {owner})"
    live_upgrades = {task.sector for task in tasks if task.closed_at is None and task.plan == "snapup"}
    open_sealing = {task.sector for task in tasks if task.closed_at is None and task.plan == "sealer"}
    # A sealed replica stays in its store while the sector is on chain, and after an abort the manager knows
    # where it is (`persisted`): the worker never deletes a complete copy that may be proven.
    kept = {name[row["number"]] for row in sectors if row["status"] in ("finalized", "proven") or row["persisted"]}
    upgraded = {name[row["number"]] for row in sectors if row["snapup"] == "upgraded"}
    for store in stores:
        for kind in ("sealed", "cache"):
            for entry in sorted((store / kind).glob("*")):
                sector = entry.name.removesuffix(".tmp")
                assert sector in kept | open_sealing, f"orphan {entry}: its sector is neither sealed nor sealing"
        for kind in ("update", "update-cache"):
            for entry in sorted((store / kind).glob("*")):
                sector = entry.name.removesuffix(".tmp")
                assert sector in upgraded | live_upgrades, f"orphan {entry}: its sector is not being upgraded"

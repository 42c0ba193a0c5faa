"""`sealer-fsm sectors list|history` on a store holding the cases an operator meets: a sector sealed and then
upgraded, aborted sectors (by a step, by an operator), a paused one, a finished one that recovered from a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealer_fsm.cli import main
from sealer_fsm.store import Change, TaskStore

SEALER_PATH = "plans/sealer.yaml"


def walk(store: TaskStore, task, *moves, at: float = 100.0):
    """Apply (event, destination, data) moves as the runtime records them."""
    for event, destination, data in moves:
        task = store.record(task, Change(task.state, event, destination, at, data_updates=data))
        at += 1
    return task


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    store = TaskStore.in_home(home, synchronous="NORMAL")
    # Task 1: s-t01000-3 sealed; a temporary failure while reporting it finished, then it closed.
    sealed = store.create_task(0, "sealer", SEALER_PATH, "Empty", 10.0)
    sealed = walk(
        store,
        sealed,
        ("Allocate", "Allocated", {"sector_id": "s-t01000-3"}),
        ("PC2", "PC2Done", {"comm_r": "ab", "comm_r_cid": "bagboea4b5abcSIM", "comm_r_simulated": True}),
        ("Finish", "Finished", {}),
    )
    failure = "temporary: manager unreachable"
    sealed = store.record(sealed, Change("Finished", None, "Finished", 120.0, failure=failure, last_error=failure))
    store.close_task(sealed, 121.0)
    # Task 2: the same sector upgraded by snapup, still open.
    upgrade = store.create_task(3, "snapup", "plans/snapup.yaml", "Empty", 130.0)
    walk(store, upgrade, ("AllocatedSnapUpSector", "Allocated", {"sector_id": "s-t01000-3"}), at=131.0)
    # Task 3: aborted by an operator, with a reason.
    dropped = store.create_task(1, "sealer", SEALER_PATH, "Empty", 20.0)
    dropped = walk(store, dropped, ("Allocate", "Allocated", {"sector_id": "s-t01000-4"}))
    dropped = store.record(
        dropped, Change("Allocated", "Abort", "Abort", 30.0, actor="operator", reason="deals expired")
    )
    store.close_task(dropped, 31.0)
    # Task 4: aborted by its step.
    rejected = store.create_task(2, "sealer", SEALER_PATH, "Empty", 40.0)
    rejected = walk(store, rejected, ("Allocate", "Allocated", {"sector_id": "s-t01000-5"}))
    rejected = store.record(rejected, Change("Allocated", "Abort", "Abort", 50.0, failure="abort: deal expired"))
    store.close_task(rejected, 51.0)
    # Task 5: paused after a permanent failure.
    stuck = store.create_task(1, "sealer", SEALER_PATH, "Empty", 60.0)
    stuck = walk(store, stuck, ("Allocate", "Allocated", {"sector_id": "s-t01000-7"}))
    ticket = "permanent: ticket expired"
    store.record(stuck, Change("Allocated", None, "Allocated", 70.0, failure=ticket, paused=True, last_error=ticket))
    # Task 6: another miner's sector with the same number.
    other = store.create_task(2, "sealer", SEALER_PATH, "Empty", 80.0)
    walk(store, other, ("Allocate", "Allocated", {"sector_id": "s-t02000-7"}))
    store.close()
    return home


def sectors(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["sectors", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def listed(capsys, home: Path, *filters: str) -> list[dict]:
    status, out, _ = sectors(capsys, "list", "--home", str(home), "--json", *filters)
    assert status == 0
    return json.loads(out)


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_list_filters_by_state_plan_and_paused(home: Path, capsys) -> None:
    assert [row["task"] for row in listed(capsys, home, "--state", "Aborted")] == [3, 4]
    assert [row["task"] for row in listed(capsys, home, "--state", "Abort")] == [3, 4]
    assert [row["task"] for row in listed(capsys, home, "--plan", "snapup")] == [2]
    assert [row["task"] for row in listed(capsys, home, "--paused")] == [5]
    assert listed(capsys, home, "--plan", "snapup", "--paused") == []


def test_list_json_says_which_sectors_are_simulated(home: Path, capsys) -> None:
    rows = {row["task"]: row for row in listed(capsys, home)}
    assert rows[1]["simulated"] is True and rows[3]["simulated"] is False


def test_an_aborted_sector_says_why_and_a_finished_one_keeps_no_stale_error(home: Path, capsys) -> None:
    rows = {row["task"]: row for row in listed(capsys, home)}
    assert rows[3]["last_error"] == "aborted by operator: deals expired"
    assert rows[4]["last_error"] == "aborted: abort: deal expired"
    assert rows[1]["state"] == "Finished" and rows[1]["last_error"] is None
    assert rows[5]["last_error"] == "permanent: ticket expired"
    status, table, _ = sectors(capsys, "list", "--home", str(home))
    assert status == 0
    assert "aborted by operator: deals expired" in table and "manager unreachable" not in table


def test_history_of_an_upgraded_sector_reads_as_two_tasks(home: Path, capsys) -> None:
    status, out, _ = sectors(capsys, "history", "s-t01000-3", "--home", str(home), "--json")
    assert status == 0
    entries = json.loads(out)
    assert {(entry["task"], entry["plan"]) for entry in entries} == {(1, "sealer"), (2, "snapup")}
    status, table, _ = sectors(capsys, "history", "s-t01000-3", "--home", str(home))
    assert table.splitlines()[0] == "history of s-t01000-3: task 1 (sealer), then task 2 (snapup)"
    lines = table.splitlines()
    finished = next(line for line in lines if "Finish " in line)
    assert cells(finished)[:2] == ["1", "sealer"]
    upgrade = next(line for line in lines if "AllocatedSnapUpSector" in line)
    assert cells(upgrade)[:2] == ["2", "snapup"]


def test_history_shows_who_acted_and_why(home: Path, capsys) -> None:
    status, table, _ = sectors(capsys, "history", "s-t01000-4", "--home", str(home))
    assert status == 0
    abort_line = next(line for line in table.splitlines() if " Abort " in line)
    assert "operator: deals expired" in abort_line
    status, out, _ = sectors(capsys, "history", "s-t01000-4", "--home", str(home), "--json")
    assert json.loads(out)[-1]["actor"] == "operator" and json.loads(out)[-1]["reason"] == "deals expired"


def test_a_sector_named_by_its_number_alone(home: Path, capsys) -> None:
    status, out, _ = sectors(capsys, "history", "4", "--home", str(home), "--json")
    assert status == 0 and {entry["task"] for entry in json.loads(out)} == {3}
    status, _, err = sectors(capsys, "history", "7", "--home", str(home))
    assert status == 1
    assert err == "sealer-fsm: sector number 7 is ambiguous: s-t01000-7, s-t02000-7; give the full name\n"
    status, _, err = sectors(capsys, "history", "99", "--home", str(home))
    assert status == 1 and "no sector numbered 99" in err

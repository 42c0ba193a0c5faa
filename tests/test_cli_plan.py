"""`sealer-fsm plan check|show` through the CLI entry point, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sealer_fsm.cli import main
from tests.conftest import DATA, PLANS, REPO


def test_plan_check_accepts_the_shipped_plans(capsys):
    assert main(["plan", "check", str(PLANS / "sealer.yaml"), "snapup"]) == 0
    out = capsys.readouterr().out
    assert "plan 'sealer', 17 states, 18 events" in out
    assert "plan 'snapup', 8 states, 8 events" in out


def test_plan_check_prints_every_fault_and_fails(capsys):
    broken = sorted((DATA / "broken_plans").glob("*.yaml"))
    assert main(["plan", "check", str(PLANS / "sealer.yaml"), *map(str, broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    for path in broken:
        assert any(line.startswith(f"{path}:") for line in lines), path
    assert f"{DATA / 'broken_plans' / 'unknown_step.yaml'}:5: step of state 'Empty': unknown step 'alocate_sector'" in (
        "\n".join(lines)
    )


def test_plan_show_json_lists_every_state_and_abort(capsys):
    assert main(["plan", "show", "sealer", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["plan"] == "sealer" and document["initial"] == "Empty"
    names = [state["name"] for state in document["states"]]
    assert names[0] == "Empty" and names[-2:] == ["Finished", "Abort"]
    pc_submitted = next(state for state in document["states"] if state["name"] == "PCSubmitted")
    assert pc_submitted == {
        "name": "PCSubmitted",
        "doc": "PreCommit on-chain information has been submitted",
        "stage": "WaitPCLanded",
        "step": "poll_precommit",
        "final": False,
        "on": {"ReSubmitPC": "PC2Done", "CheckPC": "PCLanded"},
    }


def test_plan_show_of_an_unknown_plan_is_one_line(capsys):
    assert main(["plan", "show", "sealr"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "unknown plan 'sealr' (shipped plans: sealer, snapup)" in error


def test_plan_show_table_in_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "sealer_fsm", "plan", "show", "snapup"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "RePersist → SnapProved" in result.stdout and "SubmitSnapupProof" in result.stdout


def _sealer_with(tmp_path, old: str, new: str):
    text = (PLANS / "sealer.yaml").read_text()
    assert old in text
    path = tmp_path / "edited.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_plan_check_of_a_deeply_nested_plan_is_one_line(tmp_path, capsys):
    path = _sealer_with(tmp_path, "stage: AcquireDeals", "stage: " + "[" * 5000 + "]" * 5000)
    assert main(["plan", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"{path}:") and "nested more than 32 levels deep" in out


def test_plan_check_json_gives_faults_as_objects(tmp_path, capsys):
    path = _sealer_with(tmp_path, "on: {Allocate: Allocated}", "on: {Allocate: Alocated}")
    assert main(["plan", "check", "sealer", str(path), "--json"]) == 1
    good, bad = json.loads(capsys.readouterr().out)
    assert good["ok"] is True and good["plan"] == "sealer" and good["faults"] == []
    assert bad["ok"] is False and bad["path"] == str(path)
    first, folded = bad["faults"]
    assert first == {
        "file": str(path),
        "line": 12,
        "message": "event 'Allocate' of state 'Empty' goes to unknown state 'Alocated'",
    }
    assert folded["message"].startswith("because of the faults above")


def test_plan_show_of_a_broken_plan_prefixes_every_fault_line(tmp_path, capsys):
    path = _sealer_with(tmp_path, "stage: AcquireDeals", "stage: AcquireDeals\n    timeout: 3")
    path.write_text(path.read_text().replace("step: pc1", "step: pc_one"))
    assert main(["plan", "show", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"sealer-fsm: {path}:") for line in lines), lines


def test_plan_show_of_a_missing_file_or_a_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "show", "nonexist.yaml"]) == 1
    assert capsys.readouterr().err == f"sealer-fsm: {tmp_path / 'nonexist.yaml'}: plan file not found\n"
    (tmp_path / "plans").mkdir()
    assert main(["plan", "check", "plans/"]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'plans'}: is a directory, not a plan file\n"


def test_plan_show_yaml_loads_back_unchanged(tmp_path, capsys):
    assert main(["plan", "show", "sealer", "--yaml"]) == 0
    saved = tmp_path / "again.yaml"
    saved.write_text(capsys.readouterr().out)
    assert main(["plan", "show", str(saved), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert main(["plan", "show", "sealer", "--json"]) == 0
    assert again == json.loads(capsys.readouterr().out)
    assert main(["plan", "check", str(saved)]) == 0


def test_plan_steps_lists_the_built_in_steps(capsys):
    assert main(["plan", "steps", "--json"]) == 0
    steps = {row["step"]: row for row in json.loads(capsys.readouterr().out)}
    assert steps["c2"]["simulated"] is True and "SIMULATED" in steps["c2"]["doc"]
    assert steps["build_tree_d"]["simulated"] is False and steps["build_tree_d"]["doc"].startswith("PieceAdded")
    assert main(["plan", "steps"]) == 0
    out = capsys.readouterr().out
    assert "snap_prove" in out and "simulated" in out


def _run_into_a_closed_pipe(*argv: str) -> subprocess.CompletedProcess:
    """Run a command whose stdout is a pipe nobody reads any more (`| head -1` after its first line): the read
    end is closed before the command starts, so its first write fails, every time."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "sealer_fsm", *argv], cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "show", "sealer", "--json"),
        ("plan", "show", "sealer"),
        ("plan", "check", "sealer", "--json"),
        ("plan", "steps"),
        ("plan", "diagram", "sealer"),
        ("proofs", "commd", "--sector-size", "2KiB", "--json"),
    ],
)
def test_a_reader_that_leaves_early_gets_no_traceback(argv):
    result = _run_into_a_closed_pipe(*argv)
    assert result.stderr == ""
    assert result.returncode == 141  # as a Unix tool killed by SIGPIPE

"""`sealer-fsm plan check|show` through the CLI entry point, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys

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

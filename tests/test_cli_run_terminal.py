"""`sealer-fsm run` on a real terminal (a pseudo-terminal of 80x24): the live view redraws in place, leaving
nothing behind, and the log goes above it, to a file, or (with --tui) to <home>/worker.log."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from _devnet_helpers import devnet_machine

from sealer_fsm.cli import main
from tests.support.pty_run import run_on_terminal

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Rich's Live erases its last frame before each redraw: carriage return, then erase-line and cursor-up per line.
ERASE = re.compile(r"\r((?:\x1b\[2K\x1b\[1A)*)\x1b\[2K")
FAILING_DEVNET = {"precommit_fail_rate": 0.4, "proof_fail_rate": 0.4, "abort_rate": 0.3, "rpc_error_rate": 0.2}


def run_command(machine: Path, home: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "sealer_fsm", "run", "-c", str(machine), "--home", str(home), *options]


def frames(output: str) -> tuple[list[int], list[tuple[list[str], list[str]]]]:
    """(lines erased before each redraw, [(log lines, frame lines)] of each part between erasures)."""
    erased = [match.group(1).count("\x1b[1A") + 1 for match in ERASE.finditer(output)]
    parts = []
    for part in ERASE.split(output)[::2][1:]:
        lines = ANSI.sub("", part).split("\r\n")
        title = next(at for at, line in enumerate(lines) if line.startswith("worker "))
        parts.append((lines[:title], lines[title:]))
    return erased, parts


def test_the_live_view_redraws_in_place_and_logs_go_above_it(tmp_path: Path) -> None:
    machine = devnet_machine(tmp_path, ["sealer", "sealer", "sealer", "snapup"], FAILING_DEVNET)
    command = run_command(machine, tmp_path / "home", "--sectors", "6", "--listen", "127.0.0.1:0")
    status, raw = run_on_terminal(command, columns=80, rows=24, cwd=REPO)
    assert status == 0, raw[-2000:]
    output = raw.decode()
    erased, parts = frames(output.split("\x1b[?25h")[0])  # up to the end of the live view
    assert len(parts) > 3, "the view was redrawn"
    heights = {len(frame) for _, frame in parts[:-1]}  # the last part runs on to the end of the output
    assert len(heights) == 1, f"frames of different heights: {heights}"
    (height,) = heights
    assert height <= 24
    assert all(count == height for count in erased[1:]), "each redraw erases exactly the frame before it"
    logged = [line for lines, _ in parts for line in lines if line]
    assert any("aborted" in line for line in logged), "warnings were printed above the view"
    for _, frame in parts:
        assert all(len(line) <= 80 for line in frame), "no line of the view wraps"
        assert not any(line.startswith(("WARNING", "ERROR", "INFO")) for line in frame), "no log line in a frame"


def test_run_tui_writes_the_log_to_the_home_by_default(tmp_path: Path) -> None:
    machine = devnet_machine(tmp_path, ["sealer", "snapup"])
    home = tmp_path / "home"
    command = run_command(machine, home, "--tui", "--sectors", "2", "--listen", "127.0.0.1:0")
    status, raw = run_on_terminal(command, columns=200, rows=50, cwd=REPO)
    assert status == 0, raw[-2000:]
    log = (home / "worker.log").read_text()
    assert "INFO sealer_fsm.run: control RPC listening on 127.0.0.1:" in log
    assert "sector s-t01000-1 finished by" in log
    assert "sealer_fsm.run: control RPC listening" not in ANSI.sub("", raw.decode()), "no log line on the UI"


def test_log_file_and_level_for_a_plain_run(tmp_path: Path, capsys) -> None:
    machine = devnet_machine(tmp_path, ["sealer"])
    log_file = tmp_path / "logs" / "run.log"
    common = ["run", "-c", str(machine), "--sectors", "1", "--listen", "127.0.0.1:0"]
    assert main([*common, "--home", str(tmp_path / "a"), "--log-file", str(log_file), "--log-level", "debug"]) == 0
    text = log_file.read_text()
    assert " INFO sealer_fsm.run: control RPC listening on " in text and " DEBUG " in text
    staged = re.findall(r"staged (\d+) deal (pieces?) and (\d+) pledge (pieces?)", text)
    assert staged and all((deals == "1") == (word == "piece") for deals, word, _, _ in staged)
    assert all((pledges == "1") == (word == "piece") for _, _, pledges, word in staged)
    assert "control RPC listening" not in capsys.readouterr().err

    quiet = tmp_path / "quiet.log"
    assert main([*common, "--home", str(tmp_path / "b"), "--log-file", str(quiet), "--log-level", "WARNING"]) == 0
    assert " INFO " not in quiet.read_text()


def test_an_unwritable_log_file_is_one_line(tmp_path: Path, capsys) -> None:
    machine = devnet_machine(tmp_path, ["sealer"])
    (tmp_path / "taken").write_text("a file, not a folder")
    options = ["--log-file", str(tmp_path / "taken" / "run.log"), "--listen", "127.0.0.1:0", "--sectors", "1"]
    assert main(["run", "-c", str(machine), "--home", str(tmp_path / "home"), *options]) == 1
    expected = f"cannot write the log file {tmp_path / 'taken' / 'run.log'}: {tmp_path / 'taken'} is not a folder"
    assert capsys.readouterr().err == f"sealer-fsm: {expected}\n"

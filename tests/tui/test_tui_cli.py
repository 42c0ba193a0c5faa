"""`sealer-fsm tui` from a script: one line saying why not, a non-zero exit, and no traceback."""

from __future__ import annotations

import subprocess
import sys


def test_without_a_terminal_the_tui_says_so_in_one_line_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sealer_fsm", "tui", "--host", "127.0.0.1:1"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "sealer-fsm: the TUI needs an interactive terminal; in scripts use `sealer-fsm worker list`"
    ]

"""Run a command on a pseudo-terminal of a given size, as an operator's terminal runs it, and keep every byte it
writes (escape sequences included)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path


def run_on_terminal(
    command: Sequence[str], *, columns: int, rows: int, cwd: Path, timeout: float = 120
) -> tuple[int, bytes]:
    """(exit status, output) of `command` with stdin, stdout and stderr on one terminal of `columns`x`rows`."""
    main_end, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    process = subprocess.Popen(
        list(command), stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd, env=environment, close_fds=True
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_end], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main_end, 65536)
                except OSError:  # the terminal closed: the command and its children are gone
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        else:
            process.kill()
            raise AssertionError(f"{command} did not finish in {timeout} s; it wrote {bytes(output[-2000:])!r}")
        return process.wait(timeout=30), bytes(output)
    finally:
        os.close(main_end)

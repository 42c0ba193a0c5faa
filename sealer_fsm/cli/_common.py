"""Helpers shared by the command modules: the one-line error type and JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


class CliError(Exception):
    """A fault the user can act on; printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def table_console() -> Console:
    """The terminal's width when there is one; wide lines rather than folded cells in a pipe or a file."""
    return Console() if sys.stdout.isatty() else Console(width=200)

"""Helpers shared by the command modules: the one-line error type and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TypeAlias

from rich.console import Console

# What `register(subparsers)` of each command module receives (the annotation is for type checkers only).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A fault the user can act on; printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_json_argument(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    """`--json`, worded the same on every command that a script would parse."""
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON)")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


class _CommandConsole(Console):
    """Rich's console, except that a closed pipe reaches `cli.main` like any other write's BrokenPipeError (Rich
    would exit 1 on its own), so every command stops the same quiet way."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def table_console(width: int | None = None) -> Console:
    """The terminal's width when there is one; wide lines rather than folded cells in a pipe or a file."""
    if width is None and not sys.stdout.isatty():
        width = 200
    return _CommandConsole(width=width)

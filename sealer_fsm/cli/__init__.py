"""The `sealer-fsm` command line: one module per command group, each contributing a `register(subparsers)`.

Errors reach the user once, here, as one line on stderr with a non-zero exit status; no command prints a
traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from sealer_fsm import __version__
from sealer_fsm.cli._common import CliError

# Command groups, in the order `--help` lists them. Each module defines `register(subparsers)`.
_COMMAND_MODULES = ("run", "worker", "tui", "sectors", "plan", "proofs", "processor", "devnet")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command group, or of `command`'s alone (a worker's processor children start faster
    without loading the UI)."""
    parser = argparse.ArgumentParser(prog="sealer-fsm", description="Filecoin sealing worker driven by YAML plans.")
    parser.add_argument("--version", action="version", version=f"sealer-fsm {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (command,) if command in _COMMAND_MODULES else _COMMAND_MODULES:
        importlib.import_module(f"sealer_fsm.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # inside the try: a reader that left (`| head`) shows up here, not at exit
        return status
    except BrokenPipeError:
        return _reader_left()
    except CliError as error:
        # A multi-line error (every fault of a plan) gets the same prefix on each line, so it greps as one.
        for line in str(error).splitlines() or [""]:
            print(f"sealer-fsm: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _reader_left() -> int:
    """The reader of our output closed the pipe (`sealer-fsm sectors list --json | head -1`): stop quietly, with
    the status a Unix tool killed by SIGPIPE has (128 + 13). The rest of the output goes nowhere, so that the
    interpreter's last flush at exit does not fail a second time and print a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE

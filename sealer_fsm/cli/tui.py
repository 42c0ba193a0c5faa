"""`sealer-fsm tui`: the live terminal UI, attached to a running worker over its control RPC."""

from __future__ import annotations

import argparse
import os

from sealer_fsm.cli._common import CliError, Subparsers
from sealer_fsm.control import DEFAULT_ADDRESS, TOKEN_ENV, ControlClientError

HOST_ENV = "SEALER_FSM_HOST"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="watch a running worker's threads live; pause, resume into a chosen state, abort",
        description="Needs an interactive terminal; scripts use `sealer-fsm worker list`.",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get(HOST_ENV, DEFAULT_ADDRESS),
        metavar="HOST:PORT",
        help=f"the worker's control address (default: ${HOST_ENV} or {DEFAULT_ADDRESS}); token from ${TOKEN_ENV}",
    )
    parser.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS", help="refresh interval (default 1)")
    parser.set_defaults(handler=_tui)


def _tui(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for loading Textual.
    from sealer_fsm.tui import NoTerminal, run_tui_attached

    if args.refresh <= 0:
        raise CliError("--refresh must be a positive number of seconds")
    try:
        run_tui_attached(args.host, token=os.environ.get(TOKEN_ENV), refresh_interval=args.refresh)
    except (NoTerminal, ControlClientError) as error:
        raise CliError(str(error)) from error
    return 0

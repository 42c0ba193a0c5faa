"""Talking to a running worker from a command: the `--host` option, the token, and one-line errors.

Shared by `worker ...` and `plan diagram --thread`; the token is read from SEALER_FSM_TOKEN only (never from
a command-line flag, where it would show in `ps` and shell history).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sealer_fsm.cli._common import CliError
from sealer_fsm.control import CA_ENV, DEFAULT_ADDRESS, TOKEN_ENV, ControlClient, ControlClientError

HOST_ENV = "SEALER_FSM_HOST"


def add_host_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        metavar="HOST:PORT",
        default=None,
        help=f"the worker's control address (default: ${HOST_ENV} or {DEFAULT_ADDRESS}; token from ${TOKEN_ENV})",
    )


def connect(args: argparse.Namespace) -> ControlClient:
    address = args.host or os.environ.get(HOST_ENV) or DEFAULT_ADDRESS
    try:
        return ControlClient(address, token=os.environ.get(TOKEN_ENV) or None, ca_file=os.environ.get(CA_ENV) or None)
    except ControlClientError as error:
        raise CliError(str(error)) from error


def remote_call(client: ControlClient, method: str, *params: Any) -> Any:
    """`client.call` with its failure turned into the CLI's one-line error."""
    try:
        return client.call(method, *params)
    except ControlClientError as error:
        raise CliError(str(error)) from error

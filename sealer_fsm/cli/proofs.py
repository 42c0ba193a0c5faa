"""`sealer-fsm proofs`: piece commitments of payload files and sector CommD from a piece list (PC1's commands
are in `_proofs_pc1`).

Operators use these to check a deal's piece CID against its file, and a sector's CommD against its deals,
with the same code the sealing steps run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sealer_fsm import proofs
from sealer_fsm.cli._common import CliError, print_json
from sealer_fsm.cli._proofs_c1 import register_c1_commands
from sealer_fsm.cli._proofs_pc1 import register_pc1_commands
from sealer_fsm.cli._proofs_seal import register_seal_command
from sealer_fsm.units import format_size, parse_size

_PROGRESS_THRESHOLD = 64 << 20  # smaller files hash in well under a second: no bar


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("proofs", help="piece commitments, CommD, parent caches, sealing and C1")
    commands = parser.add_subparsers(dest="proofs_command", required=True, metavar="COMMAND")

    commp = commands.add_parser("commp", help="piece CIDs (v1 and v2) of a payload file")
    commp.add_argument("file", help="the payload, e.g. a CAR file")
    commp.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    commp.add_argument("--threads", type=_positive_int, help="cores to hash on (default: all)")
    commp.set_defaults(handler=run_commp)

    commd = commands.add_parser("commd", help="CommD CID of a sector holding the given pieces, in order")
    commd.add_argument("--sector-size", required=True, help="padded sector size, e.g. 2KiB or 32GiB")
    commd.add_argument("pieces", nargs="*", metavar="CID:PADDED_SIZE", help="piece CID and padded size")
    commd.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    commd.set_defaults(handler=run_commd)
    register_pc1_commands(commands)
    register_seal_command(commands)
    register_c1_commands(commands)


def run_commp(args: argparse.Namespace) -> int:
    try:
        with _progress_bar(args.file) as progress:
            commitment = proofs.commp_file(args.file, progress=progress, threads=args.threads)
    except proofs.FileChanged as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror or error}") from None
    except ValueError as error:
        raise CliError(f"cannot hash {args.file}: {error}") from None
    if args.json:
        print_json(
            {
                "cid": commitment.cid,
                "cid_v2": commitment.cid_v2,
                "payload_size": commitment.payload_size,
                "piece_size": commitment.piece_size,
            }
        )
    else:
        print(f"piece CID (v1)  {commitment.cid}")
        print(f"piece CID (v2)  {commitment.cid_v2}")
        print(f"payload size    {commitment.payload_size} bytes")
        print(f"piece size      {format_size(commitment.piece_size)} ({commitment.piece_size} bytes, padded)")
    return 0


def run_commd(args: argparse.Namespace) -> int:
    sector_size = _size(args.sector_size, "sector size")
    pieces = [_piece(text) for text in args.pieces]
    try:
        comm_d = proofs.comm_d_from_pieces(pieces, sector_size)
    except ValueError as error:
        raise CliError(str(error)) from None
    cid = proofs.piece_cid_v1(comm_d)
    if args.json:
        print_json({"comm_d": cid})
    else:
        print(cid)
    return 0


def _piece(text: str) -> tuple[bytes, int]:
    cid, separator, size = text.rpartition(":")
    if not separator or not cid:
        raise CliError(f"piece {text!r}: expected CID:PADDED_SIZE, e.g. baga6ea4seaq...:2KiB")
    try:
        comm, encoded_size = proofs.parse_piece_cid(cid), proofs.piece_cid_size(cid)
    except ValueError as error:
        raise CliError(str(error)) from None
    padded = _size(size, f"size of piece {cid}")
    if encoded_size is not None and encoded_size != padded:
        raise CliError(
            f"piece {cid}: this v2 CID is of a {format_size(encoded_size)} piece, not {format_size(padded)} ({size!r})"
        )
    return comm, padded


def _size(text: str, what: str) -> int:
    try:
        size = parse_size(text)
    except ValueError as error:
        raise CliError(f"{what}: {error}") from None
    try:
        return proofs.check_piece_size(size, what)
    except ValueError as error:
        raise CliError(f"{error} ({text!r})") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of threads, got {text!r}")
    return int(text)


@contextmanager
def _progress_bar(path: str) -> Iterator[proofs.Progress | None]:
    """A rich progress bar for long runs on an interactive terminal; None (no output) otherwise."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if not sys.stdout.isatty() or size < _PROGRESS_THRESHOLD:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"CommP {os.path.basename(path)}", total=size)
        yield lambda done, total: bar.update(task, completed=done, total=total)

"""`sealer-fsm proofs parent-cache|pc1`: build a graph's parent cache, and run PC1 as lotus-bench does.

Operators use `parent-cache` to prepare (or, after a corrupt one was refused, rebuild) the cache a worker will
use, and `pc1` to measure or check PC1 on this host with the code the sealing step runs.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sealer_fsm import proofs
from sealer_fsm.cli._common import CliError, print_json
from sealer_fsm.units import format_size, parse_size

T = TypeVar("T")


def register_pc1_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = commands.add_parser("parent-cache", help="generate (or check) the SDR parent cache of a sector size")
    _add_proof_arguments(cache)
    cache.add_argument(
        "--dir",
        type=Path,
        help="the cache folder (default: $FIL_PROOFS_PARENT_CACHE, else the reference's /var/tmp/filecoin-parents)",
    )
    cache.add_argument("--regenerate", action="store_true", help="rebuild the cache even if a file is there")
    cache.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    cache.set_defaults(handler=run_parent_cache)

    pc1 = commands.add_parser("pc1", help="run PC1 (replica id and SDR layers) into a folder, like lotus-bench")
    _add_proof_arguments(pc1)
    pc1.add_argument("--miner", required=True, type=_number("miner"), help="the miner actor id, e.g. 1000")
    pc1.add_argument("--sector", required=True, type=_number("sector number"), help="the sector number")
    pc1.add_argument("--ticket", required=True, type=_ticket, help="the ticket: 32 bytes as 64 hex digits")
    pc1.add_argument("--comm-d", required=True, type=_comm_d, help="CommD as a piece CID (baga6ea4seaq...)")
    pc1.add_argument("--out", required=True, type=Path, help="the sector's cache folder, for the layer files")
    pc1.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    pc1.set_defaults(handler=run_pc1)


def _add_proof_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sector-size", required=True, help="2KiB, 8MiB, 512MiB, 32GiB or 64GiB")
    parser.add_argument("--proof-type", type=_number("proof type"), help="registered seal proof id (default: V1_1)")


def run_parent_cache(args: argparse.Namespace) -> int:
    proof = _seal_proof(args)
    started = time.monotonic()
    with _cancellable(proofs.open_parent_cache, proof.id, args.dir, regenerate=args.regenerate) as cache:
        report = {
            "path": str(cache.path),
            "sha256": cache.sha256,
            "nodes": cache.nodes,
            "seconds": round(time.monotonic() - started, 3),
            "verified": cache.verified,
        }
    if args.json:
        print_json(report)
        return 0
    print(f"path      {report['path']}")
    print(f"sha256    {report['sha256']}")
    print(f"nodes     {report['nodes']} ({proof.name})")
    print(f"seconds   {report['seconds']}" + (" (generated)" if cache.generated else " (already there)"))
    print("verified  " + ("yes: rust-fil-proofs publishes this digest" if cache.verified else "no published digest"))
    return 0


def run_pc1(args: argparse.Namespace) -> int:
    proof = _seal_proof(args)
    out = _cancellable(
        proofs.seal_pre_commit_phase1,
        args.out,
        miner=args.miner,
        sector_number=args.sector,
        ticket=args.ticket,
        comm_d=args.comm_d,
        proof_type=proof.id,
    )
    layers = [str(path) for path in out.layers]
    seconds, labels_per_second = round(out.seconds, 3), round(out.labels_per_second)
    if args.json:
        print_json(
            {
                "replica_id": out.replica_id.hex(),
                "layers": layers,
                "seconds": seconds,
                "labels_per_second": labels_per_second,
            }
        )
        return 0
    print(f"replica id        {out.replica_id.hex()}")
    for layer, path in enumerate(layers, start=1):
        print(f"layer {layer:<11} {path}")
    print(f"seconds           {seconds} ({proof.name}, parent cache {out.parent_cache})")
    print(f"labels per second {labels_per_second}")
    return 0


def _seal_proof(args: argparse.Namespace) -> proofs.SealProof:
    try:
        size = parse_size(args.sector_size)
        proof = proofs.seal_proof(proofs.default_proof_type(size) if args.proof_type is None else args.proof_type)
    except ValueError as error:
        raise CliError(str(error)) from None
    if proof.sector_size != size:
        raise CliError(
            f"proof type {proof.id} ({proof.name}) seals {format_size(proof.sector_size)} sectors, not "
            f"{format_size(size)}"
        )
    return proof


def _cancellable(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a long computation in a thread so that Ctrl-C (seen by this main thread) can cancel it at its next
    check; bad values and file problems become one-line errors."""
    token = proofs.CancelToken()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = function(*args, **kwargs, cancel=token)
        except BaseException as error:  # handed to the main thread, which reports it
            outcome["error"] = error

    thread = threading.Thread(target=work, name="proofs")
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        token.cancel()
        thread.join()
        raise CliError("interrupted: nothing half-written was kept", exit_code=130) from None
    error = outcome.get("error")
    if isinstance(error, ValueError):
        raise CliError(str(error)) from None
    if isinstance(error, OSError):
        raise CliError(error.strerror or str(error)) from None
    if error is not None:
        raise error
    value: T = outcome["value"]
    return value


def _number(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit():
            raise argparse.ArgumentTypeError(f"the {what} must be a whole number, got {text!r}")
        return int(text)

    return parse


def _bytes32(what: str) -> Callable[[str], bytes]:
    """An argument of 32 bytes written as 64 hex digits (a ticket, a seed)."""

    def parse(text: str) -> bytes:
        try:
            value = bytes.fromhex(text)
        except ValueError:
            value = b""
        if len(value) != 32:
            raise argparse.ArgumentTypeError(f"the {what} must be 64 hex digits (32 bytes), got {text!r}")
        return value

    return parse


_ticket = _bytes32("ticket")


def _comm_d(text: str) -> bytes:
    try:
        return proofs.parse_piece_cid(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"CommD {text!r} is not a piece CID: {error}") from None

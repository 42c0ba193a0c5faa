"""`sealer-fsm proofs seal`: AddPiece/TreeD, PC1 and PC2 of one sector into a folder, as lotus-bench runs them.

Operators use it to check a host's sealing speed, or a sector's commitments, with the code the sealing steps
run. `--cc` seals a committed-capacity (all-zero) sector; `--data FILE` stages a raw payload (Fr32-padded,
zero-filled to the sector) the way AddPiece does. The folder receives `unsealed` (the staged sector, with
`--data`), `cache/` (TreeD, the layers, trees, p_aux and t_aux), `sealed` (the replica) and `seal.json` (the
inputs and commitments, for `proofs c1`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sealer_fsm import proofs
from sealer_fsm.cli._common import CliError, print_json
from sealer_fsm.cli._proofs_c1 import write_seal_record
from sealer_fsm.cli._proofs_pc1 import _add_proof_arguments, _cancellable, _number, _seal_proof, _ticket
from sealer_fsm.units import format_size

_BLOCKS_PER_CHUNK = 8192  # 127-byte blocks padded per write: about 1 MiB, whatever the sector size


def register_seal_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seal = commands.add_parser("seal", help="AddPiece/TreeD, PC1 and PC2 of one sector into a folder")
    _add_proof_arguments(seal)
    seal.add_argument("--miner", required=True, type=_number("miner"), help="the miner actor id, e.g. 1000")
    seal.add_argument("--sector", required=True, type=_number("sector number"), help="the sector number")
    seal.add_argument("--ticket", required=True, type=_ticket, help="the ticket: 32 bytes as 64 hex digits")
    content = seal.add_mutually_exclusive_group(required=True)
    content.add_argument("--cc", action="store_true", help="a committed-capacity sector (all zeros)")
    content.add_argument("--data", type=Path, help="a raw payload to stage, at most the sector's unpadded size")
    seal.add_argument("--out", required=True, type=Path, help="the folder for unsealed, cache/ and sealed")
    seal.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    seal.set_defaults(handler=run_seal)


def run_seal(args: argparse.Namespace) -> int:
    proof = _seal_proof(args)
    out: Path = args.out
    cache, sealed = out / "cache", out / "sealed"
    seconds: dict[str, float] = {}

    started = time.monotonic()
    staged = None if args.cc else _stage(args.data, out / "unsealed", proof.sector_size)
    comm_d = _cancellable(proofs.build_tree_d, cache, proof.sector_size, staged)  # stored whole, for C1
    seconds["tree_d"] = time.monotonic() - started

    started = time.monotonic()
    pc1 = _cancellable(
        proofs.seal_pre_commit_phase1,
        cache,
        miner=args.miner,
        sector_number=args.sector,
        ticket=args.ticket,
        comm_d=comm_d,
        proof_type=proof.id,
    )
    seconds["pc1"] = time.monotonic() - started

    started = time.monotonic()
    pc2 = _cancellable(proofs.precommit_phase2, cache, sealed, proof.sector_size, staged)
    seconds["pc2"] = time.monotonic() - started
    write_seal_record(out, proof, miner=args.miner, sector=args.sector, ticket=args.ticket, comm_d=comm_d,
                      comm_r=pc2.comm_r)  # fmt: skip

    report: dict[str, Any] = {
        "comm_d": proofs.piece_cid_v1(comm_d),
        "comm_r": proofs.sealed_cid(pc2.comm_r),
        "comm_c": pc2.comm_c.hex(),
        "comm_r_last": pc2.comm_r_last.hex(),
        "replica_id": pc1.replica_id.hex(),
        "seconds": {stage: round(value, 3) for stage, value in seconds.items()},
    }
    if args.json:
        print_json(report)
        return 0
    print(f"comm_d       {report['comm_d']}")
    print(f"comm_r       {report['comm_r']}")
    print(f"comm_c       {report['comm_c']}")
    print(f"comm_r_last  {report['comm_r_last']}")
    print(f"replica id   {report['replica_id']}")
    timing = ", ".join(f"{stage} {value} s" for stage, value in report["seconds"].items())
    print(f"seconds      {timing} ({proof.name})")
    print(f"replica      {sealed}")
    return 0


def _stage(payload: Path, staged: Path, sector_size: int) -> Path:
    """AddPiece: the payload Fr32-padded and zero-filled to the whole sector, written whole or not at all."""
    capacity = proofs.unpadded_size(sector_size)
    try:
        size = payload.stat().st_size
        if size > capacity:
            raise CliError(
                f"{payload} is {size} bytes; a {format_size(sector_size)} sector holds at most {capacity} bytes"
            )
        staged.parent.mkdir(parents=True, exist_ok=True)
        temporary = staged.with_name(staged.name + ".tmp")
        blocks = capacity // 127
        with open(payload, "rb") as source, open(temporary, "wb") as target:
            for first in range(0, blocks, _BLOCKS_PER_CHUNK):
                length = 127 * min(_BLOCKS_PER_CHUNK, blocks - first)
                target.write(proofs.fr32_pad(source.read(length).ljust(length, b"\0")))
        temporary.replace(staged)
    except OSError as error:
        raise CliError(f"cannot stage {payload} into {staged}: {error.strerror or error}") from None
    return staged

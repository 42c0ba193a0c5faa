"""`sealer-fsm proofs c1|verify-c1`: C1 of a sector sealed by `proofs seal`, and the check of any C1 output.

Operators use `c1` to produce the vanilla proofs an external Groth16 prover takes (the reference's JSON), and
`verify-c1` to check a C1 output by hand: from this worker, from lotus or from any filecoin-ffi based sealer.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealer_fsm import proofs
from sealer_fsm.cli._common import CliError, print_json
from sealer_fsm.cli._proofs_pc1 import _bytes32, _cancellable

SEAL_RECORD = "seal.json"
"""What `proofs seal` records beside a sector's files: the inputs it was sealed with and its commitments."""


def register_c1_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c1 = commands.add_parser("c1", help="C1 (vanilla proofs, the reference's JSON) of a sector sealed by proofs seal")
    c1.add_argument("--out", required=True, type=Path, help="the folder `proofs seal --out` wrote")
    c1.add_argument("--seed", required=True, type=_bytes32("seed"), help="the seed: 32 bytes as 64 hex digits")
    c1.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    c1.set_defaults(handler=run_c1)

    verify = commands.add_parser("verify-c1", help="check a C1 output (exit 0 valid, 1 invalid with the reason)")
    verify.add_argument("file", type=Path, help="a C1 output (SealCommitPhase1Output JSON)")
    verify.add_argument("--comm-d", type=_cid(proofs.parse_piece_cid), help="require this CommD (a piece CID)")
    verify.add_argument("--comm-r", type=_cid(proofs.parse_sealed_cid), help="require this CommR (a sealed CID)")
    verify.add_argument("--seed", type=_bytes32("seed"), help="require this seed (64 hex digits)")
    verify.add_argument("--replica-id", type=_bytes32("replica id"), help="require this replica id (64 hex digits)")
    verify.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    verify.set_defaults(handler=run_verify_c1)


def write_seal_record(folder: Path, proof: proofs.SealProof, *, miner: int, sector: int, ticket: bytes,
                      comm_d: bytes, comm_r: bytes) -> None:  # fmt: skip
    """Record, beside a sector `proofs seal` sealed, what `proofs c1` needs (through a temporary name)."""
    record = {
        "registered_proof": proof.name,
        "proof_type": proof.id,
        "miner": miner,
        "sector": sector,
        "ticket": ticket.hex(),
        "comm_d": comm_d.hex(),
        "comm_r": comm_r.hex(),
    }
    path = folder / SEAL_RECORD
    temporary = path.with_name(SEAL_RECORD + ".tmp")
    try:
        temporary.write_text(json.dumps(record, indent=2) + "\n")
        temporary.replace(path)
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None


def run_c1(args: argparse.Namespace) -> int:
    record = _read_seal_record(args.out)
    inputs = proofs.CommitInputs(
        miner=record["miner"],
        sector_number=record["sector"],
        ticket=bytes.fromhex(record["ticket"]),
        seed=args.seed,
        comm_d=bytes.fromhex(record["comm_d"]),
        comm_r=bytes.fromhex(record["comm_r"]),
        proof_type=record["proof_type"],
    )
    run = _cancellable(proofs.run_c1, args.out / "cache", args.out / "sealed", inputs)
    report = {"path": str(run.path), "challenges": run.output.challenges, "seconds": round(run.seconds, 3)}
    if args.json:
        print_json(report)
        return 0
    print(f"path        {report['path']}")
    print(f"challenges  {report['challenges']} ({run.output.registered_proof}, verified)")
    print(f"seconds     {report['seconds']}")
    return 0


def _read_seal_record(folder: Path) -> dict[str, Any]:
    path = folder / SEAL_RECORD
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"{folder} holds no {SEAL_RECORD}: seal a sector into it with `proofs seal --out`") from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise CliError(f"{path} is not JSON: {error}") from None
    fields = {"proof_type": int, "miner": int, "sector": int, "ticket": str, "comm_d": str, "comm_r": str}
    for name, kind in fields.items():
        if not isinstance(record, dict) or not isinstance(record.get(name), kind):
            raise CliError(f"{path}: {name!r} is missing or not a {kind.__name__}; seal the sector again")
    return dict(record)


def run_verify_c1(args: argparse.Namespace) -> int:
    try:
        output = proofs.load_c1_output(args.file)
    except proofs.C1FormatError as error:
        return _invalid(args, str(error))
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror or error}") from None
    verdict = proofs.verify_porep(
        output,
        comm_d=args.comm_d or output.comm_d,
        comm_r=args.comm_r or output.comm_r,
        replica_id=args.replica_id or output.replica_id,
        seed=args.seed or output.seed,
    )
    if not verdict.valid:
        return _invalid(args, verdict.reason or "invalid")
    if args.json:
        print_json({"valid": True})
        return 0
    print(f"valid: {verdict.challenges} challenges of {output.registered_proof} prove")
    print(f"  CommR       {proofs.sealed_cid(output.comm_r)}")
    print(f"  CommD       {proofs.piece_cid_v1(output.comm_d)}")
    print(f"  replica id  {output.replica_id.hex()}")
    print(f"  seed        {output.seed.hex()}")
    return 0


def _invalid(args: argparse.Namespace, reason: str) -> int:
    if args.json:
        print_json({"valid": False, "reason": reason})
    else:
        print(f"invalid: {reason}")
    return 1


def _cid(parse: Callable[[str], bytes]) -> Callable[[str], bytes]:
    def read(text: str) -> bytes:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a commitment CID: {error}") from None

    return read

"""From task data to a stage's task (the reference's fields, `sealer_fsm.processors.tasks`) and back.

Steps run their heavy work as `await ctx.processors.run(stage, task)`: under the stage's limits and locks, in this
process or in an external child. The output may come from any program speaking the protocol, so what a step
reads of it is checked here: a missing or malformed field is Permanent, naming the processor that gave it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sealer_fsm.manager import Randomness
from sealer_fsm.processors import StageFailed, StageOutput
from sealer_fsm.processors.tasks import (
    bytes32,
    piece_info,
    read_bytes,
    registered_seal_proof,
    registered_update_proof,
)
from sealer_fsm.proofs import default_proof_type, parse_piece_cid, prover_id, unpadded_size
from sealer_fsm.runtime import Permanent, StepContext
from sealer_fsm.steps._common import SectorFiles, file_errors


def _prover(ctx: StepContext) -> list[int]:
    return bytes32(prover_id(ctx.require("miner")))


def _ticket(ctx: StepContext) -> list[int]:
    return bytes32(Randomness.from_json(ctx.require("ticket")).value)


def _proof_name(proof_type: int) -> str:
    try:
        return registered_seal_proof(proof_type)
    except StageFailed as error:
        raise Permanent(str(error)) from error


def piece_infos(ctx: StepContext) -> list[dict[str, Any]]:
    """The sector's pieces as `PieceInfo`s (commitment, unpadded size), in their order in the sector."""
    return [piece_info(parse_piece_cid(piece["cid"]), unpadded_size(piece["size"])) for piece in ctx.require("pieces")]


def pc1_task(ctx: StepContext, files: SectorFiles) -> dict[str, Any]:
    return {
        "registered_proof": _proof_name(ctx.require("proof_type")),
        "cache_path": str(files.cache),
        "in_path": str(files.unsealed),
        "out_path": str(files.sealed),
        "prover_id": _prover(ctx),
        "sector_id": ctx.require("number"),
        "ticket": _ticket(ctx),
        "piece_infos": piece_infos(ctx),
    }


def pc2_task(ctx: StepContext, files: SectorFiles) -> dict[str, Any]:
    """PC2's task; a PC1 output without CommD, the proof's name or the staged file (one recorded by an earlier
    version) gets them from task data."""
    pc1out = dict(ctx.require("pc1_out"))
    pc1out.setdefault("comm_d", bytes32(bytes.fromhex(ctx.require("comm_d"))))
    pc1out.setdefault("in_path", str(files.unsealed))
    if "registered_proof" not in pc1out:
        proof_type = pc1out.get("proof_type", ctx.data.get("proof_type"))
        if proof_type is None:  # a sector recorded without one: the size's current proof, as the devnet seals
            try:
                proof_type = default_proof_type(ctx.require("sector_size"))
            except ValueError as error:
                raise Permanent(f"PC2: {error}") from error
        pc1out["registered_proof"] = _proof_name(proof_type)
    return {"pc1out": pc1out, "cache_dir": str(files.cache), "sealed_file": str(files.sealed)}


def c1_task(ctx: StepContext, files: SectorFiles, seed: bytes, comm_r: bytes) -> dict[str, Any]:
    """C1's task for `seed` and the sector's CommR: the arguments of the reference's `seal_commit_phase1` (C1 has
    no task in its `tasks.rs`)."""
    name = _proof_name(ctx.require("proof_type"))
    return {
        "registered_proof": name,
        "cache_path": str(files.cache),
        "replica_path": str(files.sealed),
        "prover_id": _prover(ctx),
        "sector_id": ctx.require("number"),
        "ticket": _ticket(ctx),
        "seed": bytes32(seed),
        "pre_commit": {
            "registered_proof": name,
            "comm_r": bytes32(comm_r),
            "comm_d": bytes32(bytes.fromhex(ctx.require("comm_d"))),
        },
        "piece_infos": piece_infos(ctx),
    }


def snap_encode_task(ctx: StepContext, files: SectorFiles) -> dict[str, Any]:
    """The reference's snap_encode task: the sector key (replica and cache) fetched into the thread's data folder,
    the staged new data, and where the new replica and its cache go."""
    try:
        name = registered_update_proof(ctx.require("sector_size"))
    except StageFailed as error:
        raise Permanent(str(error)) from error
    return {
        "registered_proof": name,
        "new_replica_path": str(files.path("update")),
        "new_cache_path": str(files.path("update-cache")),
        "sector_path": str(files.sealed),
        "sector_cache_path": str(files.cache),
        "staged_data_path": str(files.unsealed),
        "piece_infos": piece_infos(ctx),
    }


def read_c1_output(c1_out: Any, what: str) -> bytes:
    """The C1 JSON a real C1 recorded in task data (`c1_out`: its path and SHA-256), checked against the digest
    recorded with it (Permanent if the file is gone or changed: run C1 again)."""
    if not isinstance(c1_out, dict) or not isinstance(c1_out.get("path"), str) or "sha256" not in c1_out:
        raise Permanent(f"{what}: the C1 output recorded in task data names no file: {str(c1_out)[:80]}")
    path = Path(c1_out["path"])
    with file_errors(f"{what}: read the C1 output {path}"):
        content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != c1_out["sha256"]:
        raise Permanent(f"{what}: the C1 output {path} changed since C1 wrote it; run C1 again")
    return content


def c2_task(ctx: StepContext, c1out: Any) -> dict[str, Any]:
    """The reference's c2 task: the C1 output (`SealCommitPhase1Output`, or a simulated C1's record), the prover
    id, the sector number and the miner actor id."""
    return {
        "c1out": c1out,
        "prover_id": _prover(ctx),
        "sector_id": ctx.require("number"),
        "miner_id": ctx.require("miner"),
    }


def output_field(result: StageOutput, name: str, kind: type | tuple[type, ...]) -> Any:
    """Field `name` of a stage's output; Permanent, naming who computed it, when it is missing or malformed."""
    output = result.output
    value = output.get(name) if isinstance(output, dict) else None
    if value is None or (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise Permanent(f"the {result.stage} output of processor {result.processor} has no valid {name!r}")
    return value


def output_bytes(result: StageOutput, name: str, length: int | None = 32) -> bytes:
    try:
        return read_bytes(output_field(result, name, list), name, length)
    except StageFailed as error:
        raise Permanent(f"the {result.stage} output of processor {result.processor}: {error}") from error


def unseal_task(ctx: StepContext, store: SectorFiles, output: Path, scratch: Path) -> dict[str, Any]:
    """The reference's unseal task: the replica and its cache in the store holding them, the sealing's values, the
    piece's unpadded range and where it goes; ours adds `scratch_dir` (where the key is labelled again) and, for a
    piece of an upgrade, `update` (which decodes the updated replica). ValueError for a malformed value."""
    unseal = ctx.require("unseal")
    upgrade = unseal.get("upgrade")
    replica, cache = ("update", "update-cache") if upgrade else ("sealed", "cache")
    task: dict[str, Any] = {
        "registered_proof": _proof_name(ctx.require("proof_type")),
        "prover_id": _prover(ctx),
        "sector_id": ctx.require("number"),
        "comm_d": bytes32(bytes.fromhex(ctx.require("comm_d"))),
        "ticket": _ticket(ctx),
        "cache_dir": str(store.path(cache)),
        "sealed_file": str(store.path(replica)),
        "unsealed_output": str(output),
        "offset": unseal["offset"],
        "num_bytes": unseal["size"],
        "scratch_dir": str(scratch),
    }
    if upgrade:
        task["update"] = {
            "comm_d_new": bytes32(bytes.fromhex(upgrade["comm_d_new"])),
            "comm_r_old": bytes32(bytes.fromhex(upgrade["comm_r_old"])),
        }
    return task

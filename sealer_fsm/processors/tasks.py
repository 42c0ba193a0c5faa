"""Stage inputs and outputs in the reference's JSON (`vc-processors/src/builtin/tasks.rs`, serde's encodings).

What a child receives must be what the reference's own children parse, so the values are encoded the way
rust-fil-proofs' serde derives write them:

- `registered_proof`: the `RegisteredSealProof` variant's name, e.g. `"StackedDrg2KiBV1_1"`;
- `prover_id`, `ticket`, commitments (`[u8; 32]`): a JSON array of 32 numbers;
- `sector_id` (`SectorId(u64)`), sizes (`UnpaddedBytesAmount(u64)`): plain numbers;
- `PieceInfo`: `{"commitment": [32 numbers], "size": <unpadded bytes>}`;
- paths: strings; `SealCommitPhase2Output`: `{"proof": [bytes as numbers]}`.

Steps build tasks with the functions here; built-in stages and tests read them back with the same module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealer_fsm.processors._failure import StageFailed
from sealer_fsm.proofs import SEAL_PROOFS, SealProof, seal_proof

_PROOF_IDS = {proof.name: proof.id for proof in SEAL_PROOFS.values()}


def registered_seal_proof(proof_type: int) -> str:
    """The variant name of seal proof id `proof_type` (5 → `StackedDrg2KiBV1_1`)."""
    try:
        return seal_proof(proof_type).name
    except ValueError as error:
        raise StageFailed(str(error)) from error


def registered_update_proof(sector_size: int) -> str:
    """The `RegisteredUpdateProof` variant for a sector size (`StackedDrg2KiBV1` ... `StackedDrg64GiBV1`)."""
    names = {proof.sector_size: proof.name for proof in SEAL_PROOFS.values() if proof.name.endswith("V1")}
    if sector_size not in names:
        raise StageFailed(f"no registered update proof for {sector_size}-byte sectors")
    return names[sector_size]


def read_update_sector_size(task: Any, name: str = "registered_proof") -> int:
    """The sector size a task's `RegisteredUpdateProof` is for."""
    value = read_field(task, name, str)
    sizes = {proof.name: proof.sector_size for proof in SEAL_PROOFS.values() if proof.name.endswith("V1")}
    if value not in sizes:
        raise StageFailed(f"{name}: unknown registered update proof {value!r}")
    return sizes[value]


def read_seal_proof(task: Any, name: str = "registered_proof") -> SealProof:
    """The registered seal proof a task names by its variant name."""
    value = read_field(task, name, str)
    if value not in _PROOF_IDS:
        raise StageFailed(f"{name}: unknown registered seal proof {value!r}")
    return SEAL_PROOFS[_PROOF_IDS[value]]


def miner_of_prover_id(prover: bytes) -> int:
    """The miner actor id a prover id encodes (its unsigned varint, zero-padded to 32 bytes)."""
    miner, shift = 0, 0
    for position, byte in enumerate(prover):
        miner |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if any(prover[position + 1 :]) or position >= 10:
                break
            return miner
    raise StageFailed(f"prover_id {prover.hex()} is not a miner actor id")


def bytes32(value: bytes) -> list[int]:
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return list(value)


def read_bytes(value: Any, field: str, length: int | None = 32) -> bytes:
    """Bytes from a JSON array of numbers; StageFailed naming the field when it is anything else."""
    if not isinstance(value, list) or not all(isinstance(item, int) and 0 <= item < 256 for item in value):
        raise StageFailed(f"{field}: expected an array of byte values")
    if length is not None and len(value) != length:
        raise StageFailed(f"{field}: expected {length} bytes, got {len(value)}")
    return bytes(value)


def read_field(task: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    """Field `name` of a task, of JSON type `kind`; StageFailed naming it when missing or of another type."""
    if not isinstance(task, dict):
        raise StageFailed("the task is not a JSON object")
    if name not in task:
        raise StageFailed(f"the task has no field {name!r}")
    value = task[name]
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        raise StageFailed(f"task field {name!r} has the wrong type ({type(value).__name__})")
    return value


def piece_info(commitment: bytes, unpadded_size: int) -> dict[str, Any]:
    return {"commitment": bytes32(commitment), "size": unpadded_size}


def read_piece_infos(task: Any, name: str = "piece_infos") -> list[tuple[bytes, int]]:
    """(commitment, padded size) of each `PieceInfo` of a task."""
    pieces = []
    for index, info in enumerate(read_field(task, name, list)):
        commitment = read_bytes(read_field(info, "commitment", list), f"{name}[{index}].commitment")
        size = read_field(info, "size", int)
        if size <= 0 or size % 127:
            raise StageFailed(f"{name}[{index}].size: {size} is not an unpadded piece size")
        pieces.append((commitment, size // 127 * 128))
    return pieces


def transfer_route(
    source: Path, destination: Path, store_name: str | None = None, keep: list[str] | None = None
) -> dict[str, Any]:
    """One route of a transfer task: a local file or directory copied to `destination` in store `store_name`.

    `keep` (ours, in `opt`): of a directory, copy only the files so named; a reference transfer child ignores the
    field and copies the whole directory."""
    option: dict[str, Any] = {"is_dir": source.is_dir(), "allow_link": False}
    if keep is not None:
        option["keep"] = keep
    return {
        "src": {"store_name": None, "uri": str(source)},
        "dest": {"store_name": store_name, "uri": str(destination)},
        "opt": option,
    }

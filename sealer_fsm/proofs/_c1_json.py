"""The C1 output as JSON, exactly as serde_json writes rust-filecoin-proofs-api's `SealCommitPhase1Output`.

That is what filecoin-ffi hands lotus as `Commit1Out` and what the reference's c2 processor (`c1out`) reads, so
an external Groth16 prover takes our file unchanged. serde's derive rules give the shape:

* a struct is an object with its fields in declaration order; `#[serde(skip)]` fields are absent, and a
  `PhantomData` field that is not skipped (`Column::_h`) is `null`;
* `[u8; 32]` and the newtype domains (`Sha256Domain`, `PoseidonDomain` over blstrs' `[u8; 32]` repr) are arrays
  of 32 integers, little-endian field elements;
* enums are externally tagged: a unit variant is its name (`"StackedDrg2KiBV1_1"`), a newtype variant an object
  with one key (`{"StackedDrg2KiBV1": [...]}`, `{"Single": {...}}`).

The parser is strict: every field is required, nothing else is accepted, and a fault is one sentence naming
its place (`vanilla_proofs.StackedDrg2KiBV1[0][1].comm_d_proofs.data.Single.leaf: ...`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from sealer_fsm.proofs._c1_types import (
    C1Output,
    ChallengeProof,
    Column,
    ColumnProof,
    LabelingProof,
    MerkleProof,
    PathElement,
    ProofKind,
)
from sealer_fsm.proofs._seal_proofs import SEAL_PROOFS, SealProof

NODE_SIZE = 32
MAX_C1_BYTES = 512 << 20  # a 64GiB sector's C1 output is tens of MB; anything this large is not one
_U32, _U64 = (1 << 32) - 1, (1 << 64) - 1
_PROOFS_BY_NAME = {proof.name: proof for proof in SEAL_PROOFS.values()}
T = TypeVar("T")


class C1FormatError(ValueError):
    """A C1 output that is not the JSON of a `SealCommitPhase1Output`; the message names the place at fault."""


def proof_named(name: str) -> SealProof:
    """The registered seal proof of a `RegisteredSealProof` serde name (`StackedDrg2KiBV1_1`)."""
    try:
        return _PROOFS_BY_NAME[name]
    except KeyError:
        raise C1FormatError(f"registered_proof: {name!r} is not a registered seal proof") from None


def vanilla_variant(proof: SealProof) -> str:
    """The `VanillaSealProof` variant of a proof: one per sector size, `StackedDrg<size>V1` for every version."""
    return proof.name.split("V1", 1)[0] + "V1"


# -- writing ------------------------------------------------------------------------------------------------


def c1_output_json(output: C1Output) -> bytes:
    """The compact JSON serde_json writes for `output`."""
    document = {
        "registered_proof": output.registered_proof,
        "vanilla_proofs": {
            vanilla_variant(proof_named(output.registered_proof)): [
                [_challenge(proof) for proof in partition] for partition in output.vanilla_proofs
            ]
        },
        "comm_r": list(output.comm_r),
        "comm_d": list(output.comm_d),
        "replica_id": list(output.replica_id),
        "seed": list(output.seed),
        "ticket": list(output.ticket),
    }
    return c1_document_json(document)


def c1_document_json(document: Any) -> bytes:
    """The compact JSON text of a C1 output document: what C1 writes, so a document read back from a C1 file
    (a c2 task's `c1out`) gives the file's bytes again, which a simulated C2 commits to."""
    return json.dumps(document, separators=(",", ":")).encode()


def _challenge(proof: ChallengeProof) -> dict[str, Any]:
    return {
        "comm_d_proofs": _merkle(proof.comm_d_proofs),
        "comm_r_last_proof": _merkle(proof.comm_r_last_proof),
        "replica_column_proofs": {
            "c_x": _column_proof(proof.c_x),
            "drg_parents": [_column_proof(column) for column in proof.drg_parents],
            "exp_parents": [_column_proof(column) for column in proof.exp_parents],
        },
        "labeling_proofs": [_labeling(labeling) for labeling in proof.labeling_proofs],
        "encoding_proof": _labeling(proof.encoding_proof),
    }


def _merkle(proof: MerkleProof) -> dict[str, Any]:
    def path(elements: tuple[PathElement, ...]) -> dict[str, Any]:
        return {"path": [{"hashes": [list(node) for node in each.hashes], "index": each.index} for each in elements]}

    root, leaf = list(proof.root), list(proof.leaf)
    if proof.kind is ProofKind.SINGLE:
        body = {"root": root, "leaf": leaf, "path": path(proof.base)}
    elif proof.kind is ProofKind.SUB:
        body = {"base_proof": path(proof.base), "sub_proof": path(proof.sub), "root": root, "leaf": leaf}
    else:
        body = {
            "base_proof": path(proof.base),
            "sub_proof": path(proof.sub),
            "top_proof": path(proof.top),
            "root": root,
            "leaf": leaf,
        }
    return {"data": {proof.kind.value: body}}


def _column_proof(proof: ColumnProof) -> dict[str, Any]:
    column = {"index": proof.column.index, "rows": [list(row) for row in proof.column.rows], "_h": None}
    return {"column": column, "inclusion_proof": _merkle(proof.inclusion_proof)}


def _labeling(proof: LabelingProof) -> dict[str, Any]:
    return {"parents": [list(parent) for parent in proof.parents], "layer_index": proof.layer_index, "node": proof.node}


# -- reading ------------------------------------------------------------------------------------------------


def parse_c1_output(data: bytes | str) -> C1Output:
    """A C1 output from its JSON text; C1FormatError naming the first fault."""
    if len(data) > MAX_C1_BYTES:
        raise C1FormatError(_too_large(len(data)))
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise C1FormatError(f"not JSON: {error}") from None
    return _Field(document, "").read_output()


def _too_large(size: int) -> str:
    return f"{size} bytes is more than any C1 output ({MAX_C1_BYTES >> 20} MiB)"


def load_c1_output(path: str | os.PathLike[str]) -> C1Output:
    """A C1 output from its file; OSError if it cannot be read, C1FormatError naming the file otherwise."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        data = b"" if size > MAX_C1_BYTES else file.read(MAX_C1_BYTES + 1)
    if size > MAX_C1_BYTES:
        raise C1FormatError(f"{os.fspath(path)}: {_too_large(size)}")
    try:
        return parse_c1_output(data)
    except C1FormatError as error:
        raise C1FormatError(f"{os.fspath(path)}: {error}") from None


class _Field:
    """A JSON value and where it sits in the document, for error messages."""

    def __init__(self, value: Any, place: str) -> None:
        self.value = value
        self.place = place

    def fail(self, what: str) -> C1FormatError:
        return C1FormatError(f"{self.place or 'the document'}: {what}")

    def fields(self, *names: str) -> list[_Field]:
        if not isinstance(self.value, dict):
            raise self.fail(f"expected an object with {', '.join(names)}")
        missing = [name for name in names if name not in self.value]
        if missing:
            raise self.fail(f"missing field {missing[0]!r}")
        extra = sorted(set(self.value) - set(names))
        if extra:
            raise self.fail(f"unknown field {extra[0]!r}")
        return [_Field(self.value[name], f"{self.place}.{name}" if self.place else name) for name in names]

    def variant(self, allowed: tuple[str, ...]) -> tuple[str, _Field]:
        if not isinstance(self.value, dict) or len(self.value) != 1:
            raise self.fail(f"expected an object with one of the keys {', '.join(allowed)}")
        ((name, value),) = self.value.items()
        if name not in allowed:
            raise self.fail(f"unknown variant {name!r} (expected {', '.join(allowed)})")
        return name, _Field(value, f"{self.place}.{name}")

    def items(self, read: Callable[[_Field], T], length: int | None = None) -> tuple[T, ...]:
        if not isinstance(self.value, list):
            raise self.fail("expected an array")
        if length is not None and len(self.value) != length:
            raise self.fail(f"expected {length} entries, got {len(self.value)}")
        return tuple(read(_Field(item, f"{self.place}[{index}]")) for index, item in enumerate(self.value))

    def integer(self, largest: int) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not 0 <= self.value <= largest:
            raise self.fail(f"expected an integer from 0 to {largest}, got {_shown(self.value)}")
        return self.value

    def element(self) -> bytes:
        value = self.value
        if not isinstance(value, list) or len(value) != NODE_SIZE:
            raise self.fail(f"expected 32 integers (a field element), got {_shown(value)}")
        if any(isinstance(byte, bool) or not isinstance(byte, int) or not 0 <= byte <= 255 for byte in value):
            raise self.fail("expected 32 integers from 0 to 255")
        return bytes(value)

    def text(self) -> str:
        if not isinstance(self.value, str):
            raise self.fail(f"expected a string, got {_shown(self.value)}")
        return self.value

    def null(self) -> None:
        if self.value is not None:
            raise self.fail(f"expected null (a PhantomData), got {_shown(self.value)}")

    # -- the types ------------------------------------------------------------------------------------------

    def read_output(self) -> C1Output:
        registered, vanilla, comm_r, comm_d, replica, seed, ticket = self.fields(
            "registered_proof", "vanilla_proofs", "comm_r", "comm_d", "replica_id", "seed", "ticket"
        )
        proof = proof_named(registered.text())
        name, partitions = vanilla.variant(tuple(sorted({vanilla_variant(p) for p in SEAL_PROOFS.values()})))
        if name != vanilla_variant(proof):
            raise vanilla.fail(f"variant {name} holds proofs of another sector size than {proof.name}")
        return C1Output(
            registered_proof=proof.name,
            vanilla_proofs=partitions.items(lambda partition: partition.items(_Field.read_challenge)),
            comm_r=comm_r.element(),
            comm_d=comm_d.element(),
            replica_id=replica.element(),
            seed=seed.element(),
            ticket=ticket.element(),
        )

    def read_challenge(self) -> ChallengeProof:
        comm_d, comm_r_last, columns, labeling, encoding = self.fields(
            "comm_d_proofs", "comm_r_last_proof", "replica_column_proofs", "labeling_proofs", "encoding_proof"
        )
        c_x, drg, exp = columns.fields("c_x", "drg_parents", "exp_parents")
        return ChallengeProof(
            comm_d_proofs=comm_d.read_merkle(),
            comm_r_last_proof=comm_r_last.read_merkle(),
            c_x=c_x.read_column_proof(),
            drg_parents=drg.items(_Field.read_column_proof),
            exp_parents=exp.items(_Field.read_column_proof),
            labeling_proofs=labeling.items(_Field.read_labeling),
            encoding_proof=encoding.read_labeling(),
        )

    def read_merkle(self) -> MerkleProof:
        (data,) = self.fields("data")
        name, body = data.variant(tuple(kind.value for kind in ProofKind))
        kind = ProofKind(name)
        if kind is ProofKind.SINGLE:
            root, leaf, path = body.fields("root", "leaf", "path")
            return MerkleProof(kind, root.element(), leaf.element(), path.read_path())
        if kind is ProofKind.SUB:
            base, sub, root, leaf = body.fields("base_proof", "sub_proof", "root", "leaf")
            return MerkleProof(kind, root.element(), leaf.element(), base.read_path(), sub.read_path())
        base, sub, top, root, leaf = body.fields("base_proof", "sub_proof", "top_proof", "root", "leaf")
        return MerkleProof(kind, root.element(), leaf.element(), base.read_path(), sub.read_path(), top.read_path())

    def read_path(self) -> tuple[PathElement, ...]:
        (path,) = self.fields("path")
        return path.items(_Field.read_path_element)

    def read_path_element(self) -> PathElement:
        hashes, index = self.fields("hashes", "index")
        return PathElement(hashes.items(_Field.element), index.integer(_U64))

    def read_column_proof(self) -> ColumnProof:
        column, inclusion = self.fields("column", "inclusion_proof")
        index, rows, phantom = column.fields("index", "rows", "_h")
        phantom.null()
        return ColumnProof(Column(index.integer(_U32), rows.items(_Field.element)), inclusion.read_merkle())

    def read_labeling(self) -> LabelingProof:
        parents, layer, node = self.fields("parents", "layer_index", "node")
        return LabelingProof(parents.items(_Field.element), layer.integer(_U32), node.integer(_U64))


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."

"""The C1 JSON reader on damaged input: one C1FormatError naming the place, never another exception, and
whatever it does read is judged by verify_porep without raising."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer_fsm.proofs import (
    SEAL_PROOFS,
    C1FormatError,
    C1Output,
    c1_output_json,
    load_c1_output,
    parse_c1_output,
    run_c1,
    verify_porep,
)
from sealer_fsm.proofs._c1_types import (
    ChallengeProof,
    Column,
    ColumnProof,
    LabelingProof,
    MerkleProof,
    PathElement,
    ProofKind,
)
from tests.support.sealed_sector import SealedSector, seal_sector

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=5) | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[SealedSector, bytes]:
    sector = seal_sector(tmp_path_factory.mktemp("parse"), 2 << 10)
    return sector, run_c1(sector.cache, sector.sealed, sector.inputs).path.read_bytes()


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, by its keys and indexes."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):  # the first entries of each array are enough
            found += places(child, (*path, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_is_one_format_error_or_a_verdict(sealed: tuple[SealedSector, bytes], data: st.DataObject) -> None:
    sector, text = sealed
    document = json.loads(text)
    place = data.draw(st.sampled_from(places(document)[1:]))
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[place[-1]] = data.draw(JSON_VALUES)
    elif action == "delete":
        del parent[place[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=6))] = data.draw(JSON_VALUES)
    else:
        parent.insert(place[-1], data.draw(JSON_VALUES))
    try:
        output = parse_c1_output(json.dumps(document))
    except C1FormatError as error:
        assert "\n" not in str(error) and str(error)
        return
    i = sector.inputs
    verify_porep(output, comm_d=i.comm_d, comm_r=i.comm_r, replica_id=sector.replica_id, seed=i.seed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "not JSON: "),
        (b"[]", "the document: expected an object with registered_proof, vanilla_proofs"),
        (b'{"registered_proof": 1}', "the document: missing field 'vanilla_proofs'"),
    ],
)
def test_messages_name_the_place(text: bytes, message: str) -> None:
    with pytest.raises(C1FormatError) as raised:
        parse_c1_output(text)
    assert str(raised.value).startswith(message)


def test_named_faults_deep_inside(sealed: tuple[SealedSector, bytes]) -> None:
    document = json.loads(sealed[1])
    proof = document["vanilla_proofs"]["StackedDrg2KiBV1"][0][1]
    proof["replica_column_proofs"]["drg_parents"][4]["column"]["_h"] = 0
    with pytest.raises(C1FormatError) as raised:
        parse_c1_output(json.dumps(document))
    assert str(raised.value) == (
        "vanilla_proofs.StackedDrg2KiBV1[0][1].replica_column_proofs.drg_parents[4].column._h: expected null "
        "(a PhantomData), got 0"
    )
    document = json.loads(sealed[1])
    document["vanilla_proofs"] = {"StackedDrg8MiBV1": []}
    with pytest.raises(C1FormatError, match="variant StackedDrg8MiBV1 holds proofs of another sector size"):
        parse_c1_output(json.dumps(document))
    document["registered_proof"] = "StackedDrg3KiBV1"
    with pytest.raises(C1FormatError, match="registered_proof: 'StackedDrg3KiBV1' is not a registered seal proof"):
        parse_c1_output(json.dumps(document))


def test_a_file_too_large_to_be_a_c1_output_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as file:
        file.truncate((512 << 20) + 1)  # sparse: no disk used
    with pytest.raises(C1FormatError, match=r"huge.json: 536870913 bytes is more than any C1 output \(512 MiB\)"):
        load_c1_output(huge)


ELEMENTS = st.binary(min_size=32, max_size=32)
PATHS = st.lists(
    st.builds(PathElement, st.lists(ELEMENTS, max_size=3).map(tuple), st.integers(0, 2**64 - 1)), max_size=3
).map(tuple)
MERKLE = st.one_of(
    st.builds(MerkleProof, st.just(ProofKind.SINGLE), ELEMENTS, ELEMENTS, PATHS),
    st.builds(MerkleProof, st.just(ProofKind.SUB), ELEMENTS, ELEMENTS, PATHS, PATHS),
    st.builds(MerkleProof, st.just(ProofKind.TOP), ELEMENTS, ELEMENTS, PATHS, PATHS, PATHS),
)
COLUMNS = st.builds(
    ColumnProof, st.builds(Column, st.integers(0, 2**32 - 1), st.lists(ELEMENTS, max_size=3).map(tuple)), MERKLE
)
LABELS = st.builds(
    LabelingProof, st.lists(ELEMENTS, max_size=3).map(tuple), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
)
CHALLENGES = st.builds(
    ChallengeProof,
    MERKLE,
    MERKLE,
    COLUMNS,
    st.lists(COLUMNS, max_size=2).map(tuple),
    st.lists(COLUMNS, max_size=2).map(tuple),
    st.lists(LABELS, max_size=2).map(tuple),
    LABELS,
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(proof.name for proof in SEAL_PROOFS.values())),
    partitions=st.lists(st.lists(CHALLENGES, max_size=2).map(tuple), max_size=2).map(tuple),
    values=st.lists(ELEMENTS, min_size=5, max_size=5),
)
def test_what_the_writer_writes_the_reader_reads_back(name: str, partitions: Any, values: list[bytes]) -> None:
    output = C1Output(name, partitions, *values)
    assert parse_c1_output(c1_output_json(output)) == output

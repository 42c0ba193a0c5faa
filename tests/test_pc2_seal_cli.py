"""`sealer-fsm proofs seal` as an operator runs it, and the pinned CommR of a 2KiB committed-capacity sector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sealer_fsm import cli
from sealer_fsm.proofs import (
    comm_d_from_pieces,
    commp_file,
    decode,
    fr32_unpad,
    layer_path,
    parse_piece_cid,
    precommit_phase2,
    seal_pre_commit_phase1,
    zero_commitment,
)
from tests.support import poseidon_reference as reference

TICKET = bytes(range(32)).hex()
# The 2KiB CC sector of docs/proofs.md: proof 5 (StackedDrg2KiBV1_1), miner 1000, sector 1, ticket 00..1f.
CC_2KIB = {
    "comm_d": "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy",
    "comm_r": "bagboea4b5abcbhwbsv5pivulragi6qp5bgqxdayjjoxi76vyhjtm55qhh5qsw4rm",
    "comm_c": "4402cd06e364eb9668c24b2a6b0ac1e3b4ad60c000e1aa270a1e836b3d9bc971",
    "comm_r_last": "42ca6d1ddd010b7388b8ff5e1a1f89e8465537395104aa2287def494fa0cdf48",
    "replica_id": "c7682c6b293b742ddb2b1dab74e61d22b2163e4573823f5730e285a414ef5319",
}
CC_2KIB_COMM_R = "9ec1957af4568b880c8f41fd09a17183094bae8ffab83a66cef6073f612b722c"


def seal_arguments(out: Path, *extra: str) -> list[str]:
    return ["proofs", "seal", "--sector-size", "2KiB", "--miner", "1000", "--ticket", TICKET, "--out", str(out), *extra]


def test_the_2kib_cc_sector_through_the_cli_in_a_real_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sealer_fsm", *seal_arguments(tmp_path, "--proof-type", "5", "--sector", "1")]
    result = subprocess.run([*command, "--cc", "--json"], capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(result.stdout)
    assert set(report["seconds"]) == {"tree_d", "pc1", "pc2"}
    del report["seconds"]
    assert report == CC_2KIB
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache", "seal.json", "sealed"]


def test_the_2kib_cc_comm_r_on_every_backend_and_the_reference(tmp_path: Path, field_backend: str) -> None:
    cache = tmp_path / "cache"
    pc1 = seal_pre_commit_phase1(
        cache, miner=1000, sector_number=1, ticket=bytes(range(32)), comm_d=zero_commitment(2048), proof_type=5
    )
    output = precommit_phase2(cache, tmp_path / "sealed", 2048, None)
    assert output.comm_r.hex() == CC_2KIB_COMM_R
    assert pc1.replica_id.hex() == CC_2KIB["replica_id"]
    # The composition of §4.2 recomputed by the tests' own Python from PC1's layer files.
    layers = [layer_path(cache, layer).read_bytes() for layer in (1, 2)]
    comm_c = reference.tree_c_rows(layers)[-1][0]
    comm_r_last = reference.oct_tree_rows(reference.nodes_of(reference.encode(bytes(2048), layers[1])))[-1][0]
    assert reference.comm_r(comm_c, comm_r_last).hex() == CC_2KIB_COMM_R


def test_sealing_a_payload_stages_it_as_addpiece_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "deal.bin"
    payload.write_bytes(os.urandom(1500))
    out = tmp_path / "sector"
    assert cli.main([*seal_arguments(out, "--sector", "7"), "--data", str(payload), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    piece = commp_file(payload)
    assert parse_piece_cid(report["comm_d"]) == comm_d_from_pieces([(piece.comm, piece.piece_size)], 2048)
    staged = (out / "unsealed").read_bytes()
    assert fr32_unpad(staged)[:1500] == payload.read_bytes() and not any(fr32_unpad(staged)[1500:])
    key = layer_path(out / "cache", 2).read_bytes()
    assert decode((out / "sealed").read_bytes(), key) == staged


def test_text_output_names_every_commitment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*seal_arguments(tmp_path, "--sector", "1", "--proof-type", "5"), "--cc"]) == 0
    out = capsys.readouterr().out
    assert f"comm_r       {CC_2KIB['comm_r']}" in out
    assert "(StackedDrg2KiBV1_1)" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sector", "1", "--cc", "--proof-type", "7"], "proof type 7 (StackedDrg512MiBV1_1) seals 512MiB sectors"),
        (["--sector", "1", "--data", "{big}"], "is 2033 bytes; a 2KiB sector holds at most 2032 bytes"),
        (["--sector", "1", "--data", "{missing}"], "cannot stage {missing} into {out}/unsealed: No such file or"),
    ],
)
def test_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    big, missing = tmp_path / "big.bin", tmp_path / "missing.bin"
    big.write_bytes(bytes(2033))
    values = {"big": str(big), "missing": str(missing), "out": str(tmp_path / "out")}
    arguments = [part.format(**values) for part in extra]
    assert cli.main(seal_arguments(tmp_path / "out", *arguments)) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message.format(**values) in error


def test_cc_and_data_together_are_refused_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main([*seal_arguments(tmp_path, "--sector", "1"), "--cc", "--data", "x"])
    assert stopped.value.code == 2


@pytest.mark.parametrize("content", [["--cc"], ["--data", "{payload}"]])
def test_an_output_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(100))
    arguments = [part.format(payload=payload) for part in content]
    assert cli.main([*seal_arguments(blocker / "out", "--sector", "1"), *arguments]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Not a directory" in error and str(blocker / "out") in error

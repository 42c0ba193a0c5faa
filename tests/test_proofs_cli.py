"""`sealer-fsm proofs commp|commd` as an operator runs them: through the CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sealer_fsm import cli

FRC_0069_PAYLOAD = bytes([0] * 127 + [1] * 127 + [2] * 127 + [3] * 127)
FRC_0069_CID = "baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
FRC_0069_CID_V2 = "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
ZERO_2KIB_CID = "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"
ZERO_32GIB_CID = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "frc-0069.bin"
    path.write_bytes(FRC_0069_PAYLOAD)
    return path


def test_commp_prints_both_cids_and_sizes(payload: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commp", str(payload)]) == 0
    out = capsys.readouterr().out
    assert FRC_0069_CID in out
    assert FRC_0069_CID_V2 in out
    assert "508 bytes" in out
    assert "512B (512 bytes, padded)" in out


def test_commp_json(payload: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commp", str(payload), "--json", "--threads", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "cid": FRC_0069_CID,
        "cid_v2": FRC_0069_CID_V2,
        "payload_size": 508,
        "piece_size": 512,
    }


def test_commp_of_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.car"
    assert cli.main(["proofs", "commp", str(missing)]) == 1
    assert capsys.readouterr().err == f"sealer-fsm: cannot read {missing}: No such file or directory\n"


def test_commd_of_one_piece_in_a_2kib_sector(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commd", "--sector-size", "2KiB", f"{FRC_0069_CID}:512", "--json"]) == 0
    comm_d = json.loads(capsys.readouterr().out)["comm_d"]
    assert comm_d.startswith("baga6ea4seaq")
    assert comm_d != ZERO_2KIB_CID


def test_commd_accepts_plain_byte_counts_and_v2_cids(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commd", "--sector-size", "2048", f"{FRC_0069_CID_V2}:512B"]) == 0
    by_v2 = capsys.readouterr().out
    assert cli.main(["proofs", "commd", "--sector-size", "2KiB", f"{FRC_0069_CID}:512"]) == 0
    assert capsys.readouterr().out == by_v2


def test_commd_of_an_empty_32gib_sector_is_the_zero_commitment(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["proofs", "commd", "--sector-size", "32GiB"]) == 0
    assert capsys.readouterr().out == ZERO_32GIB_CID + "\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--sector-size", "3000"], "sector size must be a power of two of at least 128 bytes, got 3000"),
        (["--sector-size", "2Kb5"], "sector size: expected a size like '2KiB' or '32GiB', got '2Kb5'"),
        (
            ["--sector-size", "2KiB", "notacid:512"],
            "not a CID (expected 'b' then lower-case base32): 'notacid'",
        ),
        (["--sector-size", "2KiB", FRC_0069_CID], f"piece {FRC_0069_CID!r}: expected CID:PADDED_SIZE"),
        (
            ["--sector-size", "2KiB", f"{FRC_0069_CID}:500"],
            "must be a power of two of at least 128 bytes, got 500",
        ),
        (
            ["--sector-size", "1KiB", f"{FRC_0069_CID}:2KiB"],
            "need 2048 bytes once aligned, more than the sector",
        ),
    ],
)
def test_commd_bad_input_is_one_line_naming_the_value(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["proofs", "commd", *arguments]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_the_installed_command_computes_commp(payload: Path) -> None:
    command = Path(sys.executable).with_name("sealer-fsm")
    result = subprocess.run(
        [os.fspath(command), "proofs", "commp", str(payload), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["cid_v2"] == FRC_0069_CID_V2

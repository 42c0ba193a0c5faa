"""`sealer-fsm proofs parent-cache|pc1` as an operator runs them, including kill -9 in the middle of PC1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealer_fsm import cli, proofs
from sealer_fsm.proofs import _sdr_reference as reference

ZERO_8MIB_CID = "baga6ea4seaqgl4u6lwmnerwdrm4iz7ag3mpwwaqtapc2fciabpooqmvjypweeha"
ZERO_2KIB_CID = "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy"
TICKET = "ab" * 32


def json_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def pc1_argv(size: str, out: Path, *extra: str) -> list[str]:
    cid = ZERO_2KIB_CID if size == "2KiB" else ZERO_8MIB_CID
    return ["proofs", "pc1", "--sector-size", size, "--miner", "1000", "--sector", "3", "--ticket", TICKET,
            "--comm-d", cid, "--out", str(out), *extra]  # fmt: skip


def test_parent_cache_generates_then_finds_the_verified_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["proofs", "parent-cache", "--sector-size", "2KiB", "--dir", str(tmp_path)]
    first = json_of(argv, capsys)
    assert set(first) == {"path", "sha256", "nodes", "seconds", "verified"}
    assert first["sha256"] == "840057702eea7652cf97e04306c30fe57174714d90de156a25eddd6075c25b97"
    assert (first["nodes"], first["verified"]) == (64, True)
    assert Path(str(first["path"])).parent == tmp_path
    assert json_of(argv, capsys)["path"] == first["path"]
    legacy = json_of([*argv, "--proof-type", "0"], capsys)
    assert legacy["sha256"] == "3da49221e2ed55371b86d0bf3d6526fcf128af61bed904f966428db1b531750d"


def test_a_cache_with_no_published_digest_is_not_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    report = json_of(["proofs", "parent-cache", "--sector-size", "2KiB", "--proof-type", "15", "--dir", str(tmp_path)],
                     capsys)  # fmt: skip
    assert report["verified"] is False and len(str(report["sha256"])) == 64


def test_a_corrupt_cache_is_refused_then_regenerated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["proofs", "parent-cache", "--sector-size", "8MiB", "--dir", str(tmp_path)]
    path = Path(str(json_of(argv, capsys)["path"]))
    with open(path, "r+b") as cache:
        cache.seek(4096)
        cache.write(b"\xff\xff\xff\xff")
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"parent cache {path} is corrupt" in error
    assert f"--dir {tmp_path} --regenerate" in error
    assert json_of([*argv, "--regenerate"], capsys)["verified"] is True


def test_pc1_prints_the_replica_id_and_writes_the_reference_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    report = json_of(pc1_argv("2KiB", tmp_path / "cache"), capsys)
    assert set(report) == {"replica_id", "layers", "seconds", "labels_per_second"}
    replica = proofs.replica_id(1000, 3, bytes.fromhex(TICKET), proofs.zero_commitment(2048), 5)
    assert report["replica_id"] == replica.hex()
    layers = reference.sdr_layers(replica, proofs.porep_id(5), 64, 2, "1.1.0")
    assert [Path(path).read_bytes() for path in report["layers"]] == layers  # type: ignore[union-attr]
    assert cli.main(pc1_argv("2KiB", tmp_path / "text")) == 0
    text = capsys.readouterr().out
    assert f"replica id        {replica.hex()}" in text and "labels per second" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (pc1_argv("4KiB", Path("out")), "sector size 4096 has no registered seal proof"),
        (pc1_argv("2KiB", Path("out"), "--proof-type", "6"), "proof type 6 (StackedDrg8MiBV1_1) seals 8MiB sectors"),
        (pc1_argv("2KiB", Path("out"), "--proof-type", "20"), "seal proof type 20 is not registered"),
    ],
)
def test_pc1_refuses_bad_values_in_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]):
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"sealer-fsm: {message}") and error.count("\n") == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--ticket", "ab" * 31, "the ticket must be 64 hex digits (32 bytes), got"),
        ("--ticket", "zz" * 32, "the ticket must be 64 hex digits (32 bytes)"),
        ("--comm-d", "bafy-not-a-piece", "CommD 'bafy-not-a-piece' is not a piece CID"),
        ("--miner", "-5", "the miner must be a whole number, got '-5'"),
    ],
)
def test_pc1_refuses_malformed_arguments(option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]):
    argv = pc1_argv("2KiB", Path("out"))
    argv[argv.index(option) + 1] = value
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert message in capsys.readouterr().err


def test_pc1_into_a_path_that_is_a_file_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("")
    assert cli.main(pc1_argv("2KiB", blocked)) == 1
    assert capsys.readouterr().err == f"sealer-fsm: cannot write in the SDR layer folder {blocked}: File exists\n"


# -- kill -9 ----------------------------------------------------------------------------------------------------


def start_pc1(out: Path) -> subprocess.Popen[bytes]:
    """PC1 of an 8MiB sector in its own process, at the lowest priority so that the test sees it mid-layer."""
    argv = [sys.executable, "-m", "sealer_fsm", *pc1_argv("8MiB", out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.nice(19))


def kill_when(process: subprocess.Popen[bytes], path: Path) -> None:
    """SIGKILL the process as soon as `path` exists; it must still have been running."""
    while not path.exists() and process.poll() is None:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "PC1 ended before it could be killed"


def test_kill_9_during_pc1_of_an_8mib_sector_then_a_rerun_gives_the_uninterrupted_layers(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "sealer_fsm", *pc1_argv("8MiB", tmp_path / "whole")], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    whole = [path.read_bytes() for path in proofs.layer_paths(tmp_path / "whole", 2)]

    out = tmp_path / "killed"
    first, second = proofs.layer_paths(out, 2)
    kill_when(start_pc1(out), out / "sdr-labels.json")  # during layer 1
    assert not first.exists()
    kill_when(start_pc1(out), first)  # during layer 2
    assert first.read_bytes() == whole[0] and not second.exists()
    kept = first.stat().st_ino

    subprocess.run([sys.executable, "-m", "sealer_fsm", *pc1_argv("8MiB", out)], check=True, stdout=subprocess.DEVNULL)
    assert [first.read_bytes(), second.read_bytes()] == whole
    assert first.stat().st_ino == kept, "the complete layer 1 was kept, not computed again"
    assert not list(out.glob("*.tmp"))

"""`sealer-fsm proofs c1` and `proofs verify-c1` as an operator runs them on a folder `proofs seal` wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sealer_fsm import cli
from sealer_fsm.proofs import load_c1_output, sealed_cid

SEED = "ab" * 32


@pytest.fixture(scope="module")
def sealed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sector"
    payload = out.parent / "deal.bin"
    payload.write_bytes(bytes(range(256)) * 7)
    arguments = ["proofs", "seal", "--sector-size", "2KiB", "--miner", "1000", "--sector", "4", "--out", str(out)]
    assert cli.main([*arguments, "--ticket", "22" * 32, "--data", str(payload), "--json"]) == 0
    return out


def test_c1_then_verify_in_real_processes(sealed_folder: Path) -> None:
    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sealer_fsm", "proofs", *arguments]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    made = run("c1", "--out", str(sealed_folder), "--seed", SEED, "--json")
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert set(report) == {"path", "challenges", "seconds"} and report["challenges"] == 2
    assert report["path"] == str(sealed_folder / "cache" / "c1-output.json")
    record = json.loads((sealed_folder / "seal.json").read_text())
    output = load_c1_output(report["path"])
    assert (output.seed.hex(), output.comm_r.hex(), output.ticket.hex()) == (SEED, record["comm_r"], "22" * 32)

    checked = run("verify-c1", report["path"], "--json")
    assert (checked.returncode, json.loads(checked.stdout)) == (0, {"valid": True})
    pinned = run("verify-c1", report["path"], "--comm-r", sealed_cid(bytes.fromhex(record["comm_r"])))
    assert pinned.returncode == 0 and pinned.stdout.startswith("valid: 2 challenges of StackedDrg2KiBV1_1 prove")


def test_a_tampered_output_is_invalid_with_the_reason(sealed_folder: Path, tmp_path: Path, capsys) -> None:
    assert cli.main(["proofs", "c1", "--out", str(sealed_folder), "--seed", SEED]) == 0
    capsys.readouterr()
    document = json.loads((sealed_folder / "cache" / "c1-output.json").read_bytes())
    proof = document["vanilla_proofs"]["StackedDrg2KiBV1"][0][1]
    proof["comm_d_proofs"]["data"]["Single"]["leaf"][0] ^= 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    assert cli.main(["proofs", "verify-c1", str(tampered), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] is False
    assert answer["reason"].startswith("partition 0, challenge 1 (node ")
    assert answer["reason"].endswith(
        "the TreeD inclusion proof does not hash up to its root (a node or sibling was changed)"
    )
    assert cli.main(["proofs", "verify-c1", str(sealed_folder / "cache" / "c1-output.json"), "--seed", "00" * 32]) == 1
    assert capsys.readouterr().out.startswith(f"invalid: the C1 output is for seed {SEED}, not this sector's 0000")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["verify-c1", "{missing}"], "sealer-fsm: cannot read {missing}: No such file or directory"),
        (["c1", "--out", "{empty}", "--seed", SEED], "sealer-fsm: {empty} holds no seal.json: seal a sector into it"),
        (["c1", "--out", "{corrupt}", "--seed", SEED], "sealer-fsm: {corrupt}/seal.json: 'comm_r' is missing or not"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, capsys, arguments: list[str], message: str) -> None:
    values = {"missing": str(tmp_path / "nothing.json"), "empty": str(tmp_path), "corrupt": str(tmp_path / "c")}
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "seal.json").write_text('{"proof_type": 5, "miner": 1, "sector": 1, "ticket": "", "comm_d": ""}')
    assert cli.main(["proofs", *[part.format(**values) for part in arguments]]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(message.format(**values))


def test_c1_of_a_folder_whose_trees_are_gone_is_one_line(sealed_folder: Path, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy"
    (copy / "cache").mkdir(parents=True)
    (copy / "seal.json").write_text((sealed_folder / "seal.json").read_text())
    assert cli.main(["proofs", "c1", "--out", str(copy), "--seed", SEED]) == 1
    error = capsys.readouterr().err
    assert error == f"sealer-fsm: PC2's p_aux {copy}/cache/p_aux is missing\n"

"""`sealer-fsm devnet rebuild|unseal|sectors` in real processes, as an operator uses them: lose a sector, ask for a
piece, watch the chain's view, let `sealer-fsm run` with rebuild and unseal threads serve both, and check the
piece with `sealer-fsm proofs commp`; and every mistake refused in one line, changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sealer_fsm.cli import main
from sealer_fsm.manager.devnet._db import DevnetDatabase
from sealer_fsm.manager.devnet._view import chain_view
from sealer_fsm.proofs import parse_sealed_cid
from tests.support.sealed_chain import SealedChain, fresh_home, machine_for, seal_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> SealedChain:
    return seal_chain(tmp_path_factory.mktemp("sealed-chain"))


def cli(*args: str | Path, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealer_fsm", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def views(home: Path) -> dict[str, dict[str, Any]]:
    listed = cli("devnet", "sectors", "--home", home, "--json")
    assert listed.returncode == 0, listed.stderr
    return {view["id"]: view for view in json.loads(listed.stdout)}


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The same command in this process (quicker, for the refusals): exit status, stdout, stderr."""
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def chain_of(home: Path) -> list[dict[str, Any]]:
    database = DevnetDatabase(home / "devnet.db")
    try:
        return chain_view(database)
    finally:
        database.close()


def test_an_operator_rebuilds_a_lost_sector_and_unseals_a_piece(tmp_path: Path, chain: SealedChain) -> None:
    home = fresh_home(chain, tmp_path / "home")
    machine = machine_for(tmp_path / "m", ["rebuild", "unseal"])
    before = views(home)[chain.dealt]
    assert before["state"] == "finalized" and not before["upgraded"] and before["rebuild"] is None
    assert before["comm_d"].startswith("baga") and before["comm_r"].startswith("bagboea")
    deal_ids = [piece["deal_id"] for piece in before["pieces"] if piece["deal_id"] is not None]
    assert deal_ids == [deal["deal_id"] for deal in chain.dealt_deals]
    assert any(piece["deal_id"] is None for piece in before["pieces"]), "pledge pieces fill the rest"
    assert sum(piece["size"] for piece in before["pieces"]) == 2048

    lost = cli("devnet", "rebuild", chain.dealt, "-c", machine, "--home", home)
    assert lost.returncode == 0, lost.stderr
    store = home / f"store-{before['persisted'][-1]}"
    removed = f"{store}/sealed/{chain.dealt}, {store}/cache/{chain.dealt}"
    assert lost.stdout == f"{chain.dealt} is lost (removed {removed}); queued for a rebuild thread (plan rebuild)\n"
    piece = chain.dealt_deals[0]
    out = tmp_path / "out" / "piece.bin"
    asked = cli("devnet", "unseal", chain.dealt, piece["piece_cid"], "--dest", f"file://{out}", "-c", machine,
                "--home", home, "--json")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout) == {
        "id": chain.dealt, "piece_cid": piece["piece_cid"], "dests": [f"file://{out}"], "status": "queued"
    }  # fmt: skip
    queued = views(home)[chain.dealt]
    assert queued["rebuild"]["status"] == "queued" and queued["unseals"][0]["status"] == "queued"

    # A home given relative to where the operator stands (as `make run` gives it) works as well.
    ran = cli("run", "-c", machine, "--home", "home", "--sectors", "2", timeout=240, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "2 sectors finished (1 rebuild, 1 unseal), 0 aborted" in ran.stdout + ran.stderr

    after = views(home)[chain.dealt]
    assert after["rebuild"]["status"] == "finished" and after["unseals"][0]["status"] == "finished"
    assert after["comm_r"] == before["comm_r"]
    p_aux = home / ("store-" + after["rebuild"]["instance"][-1]) / "cache" / chain.dealt / "p_aux"
    assert p_aux.is_file()
    commp = cli("proofs", "commp", out, "--json")
    assert json.loads(commp.stdout)["cid"] == piece["piece_cid"]
    assert parse_sealed_cid(after["comm_r"])


def test_the_table_shows_the_chain(tmp_path: Path, chain: SealedChain) -> None:
    home = fresh_home(chain, tmp_path / "home")
    listed = cli("devnet", "sectors", "--home", home)
    assert listed.returncode == 0, listed.stderr
    assert "sectors on the devnet chain (a simulated chain)" in listed.stdout
    assert chain.dealt in listed.stdout and chain.upgraded in listed.stdout
    upgraded = views(home)[chain.upgraded]
    assert upgraded["upgraded"] and upgraded["upgrade"]["comm_r"].startswith("bagboea")
    upgrade_deals = [piece["deal_id"] for piece in upgraded["upgrade"]["pieces"] if piece["deal_id"] is not None]
    assert upgrade_deals == [deal["deal_id"] for deal in chain.upgrade_deals]
    assert [piece["deal_id"] for piece in upgraded["pieces"]] == [None], "sealed as committed capacity"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["rebuild", "s-t01000-99"], "sealer-fsm: the chain has no sector s-t01000-99\n"),
        (["rebuild", "sector-one"], "sealer-fsm: 'sector-one' is not a sector name like s-t01000-5\n"),
        (["unseal", "{dealt}", "{piece}", "--dest", "ftp://host/x"], "unsupported scheme 'ftp'"),
        (["unseal", "{dealt}", "baga6ea4seaqnotapiece", "--dest", "file:///tmp/x"], "is not a deal piece of"),
        (["unseal", "{dealt}", "{piece}", "--dest", "store://nowhere/x"], "'nowhere' is not an attached store"),
    ],
)
def test_a_mistake_is_one_line_and_changes_nothing(
    tmp_path: Path, chain: SealedChain, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    home = fresh_home(chain, tmp_path / "home")
    machine = machine_for(tmp_path / "m", ["rebuild"])
    before = chain_of(home)
    files = sorted(home.rglob("*"))
    filled = [arg.format(dealt=chain.dealt, piece=chain.dealt_deals[0]["piece_cid"]) for arg in args]
    status, out, err = in_process(capsys, "devnet", *filled, "-c", machine, "--home", home)
    assert status == 1 and out == ""
    assert err.startswith("sealer-fsm: ") and error in err and err.count("\n") == 1
    assert chain_of(home) == before
    assert sorted(home.rglob("*")) == files


def test_without_a_chain_or_a_machine_file_it_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = in_process(capsys, "devnet", "sectors", "--home", tmp_path)
    assert status == 1
    assert err == f"sealer-fsm: there is no devnet chain in {tmp_path} (no devnet.db); run a worker there first\n"
    assert not (tmp_path / "devnet.db").exists()
    status, _, err = in_process(capsys, "devnet", "sectors")
    assert (status, err) == (1, "sealer-fsm: say where the devnet lives: -c MACHINE_FILE or --home DIR\n")
    with pytest.raises(SystemExit) as usage:
        main(["devnet", "rebuild", "s-t01000-1", "--home", str(tmp_path)])
    assert usage.value.code == 2 and "-c/--config" in capsys.readouterr().err
    foreign = tmp_path / "devnet.db"
    foreign.write_bytes(b"not a database" * 100)
    status, _, err = in_process(capsys, "devnet", "sectors", "--home", tmp_path)
    assert status == 1 and err.startswith(f"sealer-fsm: cannot read the devnet chain {foreign}")
    assert err.count("\n") == 1

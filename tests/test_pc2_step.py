"""The pc2 and snap_encode steps: real sealing and Snap Deals against the devnet, simulated only when asked.

The operator's story: a worker seals committed-capacity and deal sectors for real; the CommR in the task, the
history, `sectors list` and on the chain is the one anyone recomputes from the sector's inputs; the persist store
receives the replica, TreeR-last, p_aux and t_aux (not the layers); a snapup thread upgrades a sector sealed for
real with a real encoding that decodes back to the new data. With `[proofs] simulate = ["pc2"]` both are the
labelled stand-ins.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import FakeContext, devnet_machine

from sealer_fsm import cli
from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import SectorId
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.proofs import (
    hash2,
    precommit_phase2,
    seal_pre_commit_phase1,
    snap_decode,
    tree_r_last_path,
    tree_root,
    zero_commitment,
)
from sealer_fsm.runtime import Permanent, Temporary, Worker, WorkerListener
from sealer_fsm.steps import sealing, stages

PERSISTED_CACHE = ["p_aux", "sc-02-data-tree-r-last.dat", "t_aux"]


class StopAfter(WorkerListener):
    """Drains the worker once `sealed` sealer tasks and `upgraded` snapup tasks have finished."""

    def __init__(self, worker: Worker, sealed: int, upgraded: int) -> None:
        self.worker, self.wanted = worker, {"sealer": sealed, "snapup": upgraded}
        self.done = {"sealer": 0, "snapup": 0}

    def task_closed(self, thread: Any, task: Any) -> None:
        if task.state != ABORT_STATE:
            self.done[task.plan] += 1
        if all(self.done[plan] >= wanted for plan, wanted in self.wanted.items()):
            self.worker.drain()


def run_worker(tmp_path: Path, extra: str = "", upgraded: int = 1) -> Worker:
    path = devnet_machine(tmp_path, ["sealer", "sealer", "snapup"], {"seed": 5}, "enable_deals = true", extra)
    worker = build_worker(load_machine_file(path, tmp_path / "home"))
    worker.add_listener(StopAfter(worker, sealed=3, upgraded=upgraded))
    asyncio.run(asyncio.wait_for(worker.run(), 120))
    return worker


def finished(worker: Worker, plan: str) -> list[Any]:
    return [task for task in worker.store.tasks() if task.plan == plan and task.state == "Finished"]


def store_files(worker: Worker, task: Any, kind: str) -> Path:
    return worker.services.stores[task.data["persist_instance"]] / kind / task.sector


def test_real_pc2_and_snap_encoding_on_the_devnet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker = run_worker(tmp_path)
    sealed = finished(worker, "sealer")
    assert sealed and all(not task.data.get("comm_r_simulated") for task in sealed)
    for task in sealed:
        comm_r = bytes.fromhex(task.data["comm_r"])
        assert worker.services.manager.sector_record(SectorId.parse(task.sector))["comm_r"] == comm_r.hex()
        cache = store_files(worker, task, "cache")
        assert sorted(path.name for path in cache.iterdir()) == PERSISTED_CACHE  # no layers, no TreeC
        p_aux = (cache / "p_aux").read_bytes()
        assert hash2(p_aux[:32], p_aux[32:]) == comm_r
        path = tree_r_last_path(cache, store_files(worker, task, "sealed"), 2048, 17)
        assert path.root == p_aux[32:] and path.verify()
    # A committed-capacity sector's CommR, recomputed from its inputs alone (PC1 and PC2 again, elsewhere).
    cc = next(task for task in sealed if not task.data["deals"])
    pc1 = seal_pre_commit_phase1(
        tmp_path / "again",
        miner=cc.data["miner"],
        sector_number=cc.data["number"],
        ticket=bytes.fromhex(cc.data["ticket"]["value"]),
        comm_d=zero_commitment(2048),
        proof_type=cc.data["proof_type"],
    )
    assert pc1.replica_id.hex() == cc.data["pc1_out"]["replica_id"]
    assert precommit_phase2(tmp_path / "again", tmp_path / "sealed-again", 2048, None).comm_r.hex() == cc.data["comm_r"]
    history = [entry.payload or "" for entry in worker.store.history(cc.id)]
    assert any(cc.data["comm_r"] in payload for payload in history)

    upgrades = finished(worker, "snapup")
    assert upgrades
    for upgrade in upgrades:
        assert not upgrade.data.get("comm_r_simulated")
        update_cache = store_files(worker, upgrade, "update-cache")
        assert sorted(path.name for path in update_cache.iterdir()) == PERSISTED_CACHE
        p_aux = (update_cache / "p_aux").read_bytes()
        assert hash2(p_aux[:32], p_aux[32:]).hex() == upgrade.data["comm_r"]
        new_data = snap_decode(
            store_files(worker, upgrade, "update").read_bytes(),
            store_files(worker, upgrade, "sealed").read_bytes(),
            comm_d_new=bytes.fromhex(upgrade.data["comm_d"]),
            comm_r_old=bytes.fromhex(upgrade.data["old_comm_r"]),
            nodes=64,
        )
        assert tree_root(new_data).hex() == upgrade.data["comm_d"]  # the deals' data came back out

    assert cli.main(["sectors", "list", "--home", str(tmp_path / "home")]) == 0
    assert "(simulated)" not in capsys.readouterr().out


def test_simulated_pc2_and_its_simulated_upgrade_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker = run_worker(tmp_path, '[proofs]\nsimulate = ["pc2"]\n')
    assert worker.registry.is_simulated("pc2") and not worker.registry.is_simulated("snap_encode")
    assert all(task.data["comm_r_simulated"] for task in finished(worker, "sealer"))
    upgrades = finished(worker, "snapup")
    assert upgrades and all(upgrade.data["comm_r_simulated"] for upgrade in upgrades)  # fell back: simulated keys
    assert cli.main(["sectors", "list", "--home", str(tmp_path / "home"), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {row["comm_r"] for row in listing if row["state"] == "Finished"}


# -- the step alone: failure levels ---------------------------------------------------------------------------


def pc2_context(tmp_path: Path, **changes: Any) -> FakeContext:
    data = {
        "sector_id": "s-t01000-9",
        "sector_size": 2048,
        "comm_d": zero_commitment(2048).hex(),
        "pc1_out": {"replica_id": "00" * 32, "proof_type": 5, "layers": []},
        **changes,
    }
    context = FakeContext(data, {}, tmp_path)
    context.plan = type("Plan", (), {"states": {"TicketAssigned": type("Spec", (), {"step": "pc1"})()}})()
    (tmp_path / "data" / "unsealed").mkdir(parents=True)
    (tmp_path / "data" / "unsealed" / "s-t01000-9").write_bytes(bytes(2048))
    return context


def test_missing_layers_are_permanent(tmp_path: Path) -> None:
    with pytest.raises(Permanent, match=r"^permanent: PC2: PC1 layer 1 .*sc-02-data-layer-1.dat is missing$"):
        asyncio.run(sealing.pc2(pc2_context(tmp_path)))


def test_a_simulated_pc1_is_permanent_and_says_what_to_do(tmp_path: Path) -> None:
    context = pc2_context(tmp_path, pc1_out={"simulated": True, "replica_id": "00" * 32})
    with pytest.raises(Permanent, match=r"PC1 was simulated.*resume the thread into TicketAssigned"):
        asyncio.run(sealing.pc2(context))


def test_a_full_disk_is_temporary_and_names_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device (the tree being written, node 64)")

    monkeypatch.setattr(stages._sealing, "precommit_phase2", full)  # the pc2 processor's computation
    with pytest.raises(Temporary, match=r"^temporary: PC2: No space left on device .*; .* free in "):
        asyncio.run(sealing.pc2(pc2_context(tmp_path)))


def test_a_sector_key_whose_p_aux_does_not_match_its_comm_r_is_permanent(tmp_path: Path) -> None:
    from sealer_fsm.steps._common import SectorFiles
    from sealer_fsm.steps.snap import sealed_for_real

    files = SectorFiles(tmp_path, "s-t01000-3")
    files.cache.mkdir(parents=True)
    with pytest.raises(Permanent, match="p_aux is missing: the sector key has no PC2 commitments"):
        sealed_for_real(files, bytes(32))
    (files.cache / "p_aux").write_bytes(bytes(64))
    with pytest.raises(Permanent, match="p_aux does not match the sector's CommR"):
        sealed_for_real(files, b"\x01" * 32)

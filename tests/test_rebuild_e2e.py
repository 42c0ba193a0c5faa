"""End to end, in process, real 2KiB proofs: sectors sealed with deals (one of them upgraded with Snap Deals) are
lost and rebuilt, and deal pieces are unsealed to files, against the devnet.

The operator's story: the sealer and snapup threads finish their sectors; a disk dies, taking a deal sector and an
upgraded sector with it; the operator asks for both to be rebuilt, and for a piece of each to be unsealed. The
rebuild threads seal them again with their original tickets (the same CommR, byte for byte the same replicas,
back in a store); the unseal threads wait for the rebuilds, then write files whose CommP is the deal's piece CID.
The chain runs on a `ChainClock` (it moves when threads wait on it), so the story runs the same at any speed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _devnet_helpers import ChainClock, devnet_machine

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import SectorId
from sealer_fsm.manager.devnet import deal_payload
from sealer_fsm.proofs import commp_file, hash2, parse_sealed_cid, unpadded_size
from sealer_fsm.runtime import Worker, WorkerListener

SEED = 3
BLOCK_TIME = 0.01


class Story(WorkerListener):
    """The operator, watching the worker: once a deal sector and an upgraded sector are finished, a disk dies and
    takes both; the operator asks for their rebuild and for a piece of each to be unsealed. The worker is drained
    once both rebuilds and both unseals are over."""

    def __init__(self, worker: Worker, home: Path, out: Path) -> None:
        self.worker = worker
        self.home = home
        self.out = out
        self.lost: dict[str, Any] = {}  # sector -> its finished sealer or snapup task
        self.before: dict[str, dict[str, bytes]] = {}
        self.chain: dict[str, dict[str, Any]] = {}
        self.served: list[Any] = []

    def task_closed(self, thread: Any, task: Any) -> None:
        assert task.state == "Finished", f"{task.plan} {task.sector} ended in {task.state}"
        if task.plan in ("rebuild", "unseal"):
            self.served.append(task)
            if len(self.served) == 4:
                self.worker.drain()
            return
        if self.lost:
            return
        finished = [t for t in self.worker.store.tasks() if t.state == "Finished"]
        dealt = [t for t in finished if t.plan == "sealer" and t.data["deals"]]
        upgraded = [t for t in finished if t.plan == "snapup"]
        if dealt and upgraded:
            self.lose(dealt[0], upgraded[0])

    def lose(self, dealt: Any, upgraded: Any) -> None:
        devnet = self.worker.services.manager
        self.chain = {view["id"]: view for view in devnet.sectors_view()}
        for task in (dealt, upgraded):
            self.lost[task.sector] = task
            self.before[task.sector] = stored_files(self.home, task.sector)
            devnet.request_rebuild(SectorId.parse(task.sector))
            assert stored_files(self.home, task.sector) == {}
        deal_piece, upgrade_piece = dealt.data["deals"][0], upgraded.data["deals"][0]
        devnet.request_unseal(SectorId.parse(dealt.sector), deal_piece["piece_cid"], f"file://{self.out}/deal")
        devnet.request_unseal(SectorId.parse(upgraded.sector), upgrade_piece["piece_cid"], "store://a/pieces/up")


def stored_files(home: Path, sector: str) -> dict[str, bytes]:
    """Every file of the sector in the stores, by path relative to its store; of t_aux, which records the
    absolute paths of the cache it was written in (a thread's), only that it is there."""
    files = {}
    for store in ("store-a", "store-b"):
        for path in (home / store).rglob("*"):
            if path.is_file() and sector in path.relative_to(home / store).parts:
                files[str(path.relative_to(home / store))] = b"" if path.name == "t_aux" else path.read_bytes()
    return files


def comm_r_of(cache: bytes) -> bytes:
    """CommR from a persisted cache's p_aux (comm_c ‖ comm_r_last)."""
    return hash2(cache[:32], cache[32:64])


def test_lost_sectors_are_rebuilt_and_their_pieces_unsealed(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    machine = devnet_machine(
        tmp_path, ["sealer", "sealer", "snapup", "rebuild", "unseal"], {"seed": SEED}, "enable_deals = true"
    )
    clock = ChainClock(BLOCK_TIME)
    worker = build_worker(load_machine_file(machine, home), clock=clock, manager_calls=clock)
    story = Story(worker, home, out)
    worker.add_listener(story)
    try:
        asyncio.run(asyncio.wait_for(worker.run(), 240))
        devnet_views = {view["id"]: view for view in worker.services.manager.sectors_view()}
    finally:
        worker.close()
    assert not [info.last_error for info in worker.threads() if info.paused]
    dealt, upgraded = story.lost.values()
    rebuilt = {task.sector: task for task in story.served if task.plan == "rebuild"}
    assert set(rebuilt) == {dealt.sector, upgraded.sector}

    # Same CommR as on chain, the files back in a store, byte for byte the replicas that were lost.
    assert rebuilt[dealt.sector].data["comm_r"] == dealt.data["comm_r"]
    after = stored_files(home, dealt.sector)
    assert after == story.before[dealt.sector]
    p_aux = next(data for path, data in after.items() if path.endswith("p_aux"))
    assert comm_r_of(p_aux) == parse_sealed_cid(story.chain[dealt.sector]["comm_r"])
    assert rebuilt[upgraded.sector].data["comm_r"] == upgraded.data["comm_r"], "the upgrade's CommR"
    updates = {path: data for path, data in story.before[upgraded.sector].items() if path.startswith("update")}
    assert updates, "the upgrade's files were in a store"
    after = stored_files(home, upgraded.sector)
    assert {path: data for path, data in after.items() if path.startswith("update")} == updates
    for task in (dealt, upgraded):
        assert devnet_views[task.sector]["rebuild"]["status"] == "finished"
    assert devnet_views[upgraded.sector]["upgrade"] == story.chain[upgraded.sector]["upgrade"]

    # The unsealed pieces: their CommP is the deal's piece CID, their bytes the deal's data (zero-filled).
    for task, path in ((dealt, out / "deal"), (upgraded, home / "store-a" / "pieces" / "up")):
        piece = task.data["deals"][0]
        assert commp_file(path).cid == piece["piece_cid"]
        payload = deal_payload(SEED, piece["deal_id"], piece["payload_size"])
        assert path.read_bytes() == payload.ljust(unpadded_size(piece["piece_size"]), b"\0")
        assert [unseal["status"] for unseal in devnet_views[task.sector]["unseals"]] == ["finished"]
    # Nothing is left in the rebuild and unseal threads' data folders.
    for thread in worker.threads()[3:]:
        assert [p for p in Path(thread.location, "data").rglob("*") if p.is_file()] == []

"""The PC1 step: real SDR layers in a worker by default, the simulated stand-in when the machine file asks, and
bad task data or a broken disk reported at the right failure level."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import FakeContext, devnet_machine

from sealer_fsm import proofs
from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import Randomness
from sealer_fsm.proofs import _sdr_reference as reference
from sealer_fsm.runtime import Outcome, Permanent, Temporary, Worker, WorkerListener
from sealer_fsm.steps import builtin_registry, sealing

TICKET = Randomness(bytes(range(32)), 12)


class AtPC1(WorkerListener):
    """Pauses each thread as its task reaches TicketAssigned (to read what the views say of the PC1 stage), and
    keeps a copy of the layer files and task data the moment PC1 is done, before PC2 and persistence move on."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.pc1_data: dict[str, Any] | None = None
        self.layers: list[bytes] = []

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        if destination == "TicketAssigned" and self.pc1_data is None:
            self.worker.pause(thread.index)
        if destination == "PC1Done" and self.pc1_data is None:
            self.pc1_data = dict(thread.task.data)
            self.layers = [Path(path).read_bytes() for path in self.pc1_data["pc1_out"].get("layers", [])]
            self.worker.drain()


def seal_one(tmp_path: Path, extra: str = "") -> tuple[AtPC1, Any]:
    config = load_machine_file(devnet_machine(tmp_path, ["sealer"], extra=extra), tmp_path / "home")
    worker = build_worker(config)
    watcher = AtPC1(worker)
    worker.add_listener(watcher)

    async def story() -> Any:
        running = asyncio.ensure_future(worker.run())
        while not worker.thread(0).paused:
            await asyncio.sleep(0.01)
        at_ticket = worker.thread(0)
        worker.resume(0)
        await asyncio.wait_for(running, 60)
        return at_ticket

    return watcher, asyncio.run(story())


def test_a_worker_seals_real_sdr_layers_and_records_them(tmp_path: Path) -> None:
    watcher, at_ticket = seal_one(tmp_path)
    assert (at_ticket.state, at_ticket.stage, at_ticket.simulated) == ("TicketAssigned", "PC1", False)
    assert at_ticket.to_worker_info()["simulated"] is False
    data = watcher.pc1_data
    assert data is not None and data["proof_type"] == 5  # the devnet's default for 2KiB: V1_1
    ticket = Randomness.from_json(data["ticket"]).value
    replica = proofs.replica_id(data["miner"], data["number"], ticket, bytes.fromhex(data["comm_d"]), 5)
    out = data["pc1_out"]
    assert out["replica_id"] == replica.hex() and "simulated" not in out
    cache = tmp_path / "home" / "t0" / "data" / "cache" / data["sector_id"]
    assert out["layers"] == [str(path) for path in proofs.layer_paths(cache, 2)]
    assert watcher.layers == reference.sdr_layers(replica, proofs.porep_id(5), 64, 2, "1.1.0")


def test_a_machine_file_that_simulates_pc1_runs_the_labelled_stand_in(tmp_path: Path) -> None:
    watcher, at_ticket = seal_one(tmp_path, extra='[proofs]\nsimulate = ["pc1"]\n')
    assert (at_ticket.state, at_ticket.simulated) == ("TicketAssigned", True)
    assert watcher.pc1_data is not None
    assert watcher.pc1_data["pc1_out"]["simulated"] is True and watcher.layers == []


def test_pause_now_stops_a_running_8mib_pc1_cleanly_and_resume_finishes_it(tmp_path: Path) -> None:
    """The step's cancel token reaches the C loop: the half-written layer is removed, the state stays
    TicketAssigned, and after resume PC1 runs again to the same layers as an uninterrupted run."""
    config = load_machine_file(devnet_machine(tmp_path, ["sealer"], {"sector_size": '"8MiB"'}), tmp_path / "home")
    worker = build_worker(config)
    watcher = AtPC1(worker)
    worker.add_listener(watcher)

    async def story() -> tuple[Any, list[Path]]:
        running = asyncio.ensure_future(worker.run())
        while not worker.thread(0).paused:  # AtPC1 pauses the thread as it reaches TicketAssigned
            await asyncio.sleep(0.01)
        cache = tmp_path / "home" / "t0" / "data" / "cache" / worker.thread(0).sector
        worker.resume(0)
        while not list(cache.glob("*.dat.tmp")) and worker.thread(0).state == "TicketAssigned":
            await asyncio.sleep(0.002)
        assert worker.thread(0).state == "TicketAssigned", "PC1 ended before it could be paused"
        worker.pause(0, now=True)  # while PC1 writes a layer
        while not worker.thread(0).paused or list(cache.glob("*.tmp")):
            await asyncio.sleep(0.01)
        at_pause = worker.thread(0)
        leftovers = list(cache.glob("*.tmp"))
        worker.resume(0)
        await asyncio.wait_for(running, 120)
        return at_pause, leftovers

    at_pause, leftovers = asyncio.run(story())
    assert at_pause.state == "TicketAssigned" and leftovers == []
    data = watcher.pc1_data
    assert data is not None
    replica = bytes.fromhex(data["pc1_out"]["replica_id"])
    with proofs.open_parent_cache(6) as cache:
        last = proofs.sdr_labels(replica, proofs.porep_id(6), 1 << 18, 2, "1.1.0", parents=cache)
    assert watcher.layers[-1][-32:] == last


def test_the_registry_marks_pc1_simulated_only_when_asked() -> None:
    assert not builtin_registry().is_simulated("pc1")
    assert builtin_registry(simulate=["pc1"]).is_simulated("pc1")
    assert not builtin_registry().is_simulated("pc2")
    assert builtin_registry(simulate=["pc1"]).is_simulated("pc2")  # a real PC2 needs the layers PC1 did not write
    assert builtin_registry(simulate=["pc2"]).resolve("pc1") is sealing.pc1


# -- the step alone: failure levels ---------------------------------------------------------------------------


def pc1_context(tmp_path: Path, **changes: Any) -> FakeContext:
    data = {
        "sector_id": "s-t01000-7",
        "miner": 1000,
        "number": 7,
        "sector_size": 2048,
        "proof_type": 5,
        "ticket": TICKET.to_json(),
        "comm_d": proofs.zero_commitment(2048).hex(),
        "pieces": [{"cid": proofs.piece_cid_v1(proofs.zero_commitment(2048)), "size": 2048, "deal_id": None}],
        **changes,
    }
    return FakeContext(data, {}, tmp_path / "thread")


def run_pc1(ctx: FakeContext) -> Any:
    return asyncio.run(sealing.pc1(ctx))  # type: ignore[arg-type]


def test_the_step_alone_writes_the_layers_and_removes_a_stale_replica(tmp_path: Path) -> None:
    ctx = pc1_context(tmp_path)
    sealed = tmp_path / "thread" / "data" / "sealed" / "s-t01000-7"
    sealed.parent.mkdir(parents=True)
    sealed.write_bytes(b"replica of an earlier ticket")
    outcome = run_pc1(ctx)
    assert isinstance(outcome, Outcome) and outcome.event == "PC1"
    assert not sealed.exists()
    replica = proofs.replica_id(1000, 7, TICKET.value, proofs.zero_commitment(2048), 5)
    assert outcome.data["pc1_out"] == {
        "registered_proof": "StackedDrg2KiBV1_1",
        "replica_id": replica.hex(),
        "proof_type": 5,
        "comm_d": list(proofs.zero_commitment(2048)),
        "in_path": str(tmp_path / "thread" / "data" / "unsealed" / "s-t01000-7"),
        "layers": [str(path) for path in proofs.layer_paths(tmp_path / "thread/data/cache/s-t01000-7", 2)],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"proof_type": 42}, "PC1: seal proof type 42 is not registered"),
        ({"proof_type": 6}, "PC1: seal proof 6 (StackedDrg8MiBV1_1) seals 8MiB sectors, not 2KiB"),
        ({"proof_type": None}, "PC1: seal proof type None is not registered"),
        ({"ticket": {"value": "00" * 31, "epoch": 1}}, "PC1: the ticket must be 32 bytes, got 31 bytes"),
        ({"comm_d": "zz"}, "PC1: non-hexadecimal number found"),
    ],
)
def test_bad_task_data_is_permanent_and_names_the_value(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(Permanent) as failure:
        run_pc1(pc1_context(tmp_path, **changes))
    assert failure.value.message.startswith(message) and "\n" not in failure.value.message


def test_a_corrupt_parent_cache_is_permanent_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIL_PROOFS_PARENT_CACHE", str(tmp_path / "parents"))
    proofs.open_parent_cache(5).close()
    cache = next((tmp_path / "parents").glob("*.cache"))
    cache.write_bytes(bytes(len(cache.read_bytes())))
    with pytest.raises(Permanent, match=f"PC1: parent cache {cache} is corrupt: .* --regenerate`$"):
        run_pc1(pc1_context(tmp_path))


def test_a_full_disk_is_temporary_with_the_path_and_the_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(descriptor: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(Temporary) as failure:
        run_pc1(pc1_context(tmp_path))
    message = failure.value.message
    layer = tmp_path / "thread/data/cache/s-t01000-7/sc-02-data-layer-1.dat.tmp"
    assert message.startswith(f"PC1: cannot write the SDR layer 1 {layer}: No space left on device (")
    assert " free in " in message and "\n" not in message
    assert not layer.exists()

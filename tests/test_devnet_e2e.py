"""End to end, in process: both shipped plans seal sectors against the devnet, failures injected at high rates.

The story an operator would tell: sectors go through every transition of the seed's flows, recovery paths
included (ReSubmitPC, ReSubmitProof, RePersist); the CommD of every finished sector is what anyone recomputes
from its deals' data; an expired ticket pauses a thread until it is resumed into TreeDBuilt; a sector resumed
into Abort is cleaned up and the chain hears of it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _devnet_helpers import MovableClock, devnet_machine

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import SectorId
from sealer_fsm.manager.devnet import deal_payload
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.proofs import comm_d_from_pieces, commp_bytes, zero_commitment
from sealer_fsm.runtime import Worker, WorkerListener

E2E_SEED = 3


class Coverage(WorkerListener):
    """Drains the worker once every declared transition of every plan ran and enough tasks finished."""

    def __init__(self, worker: Worker, finished_at_least: int) -> None:
        self.worker = worker
        self.wanted = {
            (plan.name, *transition) for plan in worker.plans().values() for transition in plan.transitions()
        }
        self.seen: set[tuple[str, str, str, str]] = set()
        self.finished = 0
        self.finished_at_least = finished_at_least

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        self.seen.add((thread.task_plan.name, source, event, destination))

    def task_closed(self, thread: Any, task: Any) -> None:
        self.finished += task.state != ABORT_STATE
        if self.wanted <= self.seen and self.finished >= self.finished_at_least:
            self.worker.drain()


async def run_until_drained(worker: Worker, timeout: float = 50.0) -> None:
    await asyncio.wait_for(worker.run(), timeout)


def test_both_plans_take_every_transition_and_comm_d_is_independently_right(tmp_path: Path) -> None:
    rates = {
        "precommit_fail_rate": 0.35,
        "proof_fail_rate": 0.35,
        "files_missed_rate": 0.5,
        "rpc_error_rate": 0.1,
        "abort_rate": 0.05,
        "seed": E2E_SEED,
    }
    config = load_machine_file(
        devnet_machine(tmp_path, ["sealer", "sealer", "sealer", "snapup"], rates, "enable_deals = true"),
        tmp_path / "home",
    )
    worker = build_worker(config)
    coverage = Coverage(worker, finished_at_least=6)
    worker.add_listener(coverage)
    asyncio.run(run_until_drained(worker))

    taken = set()
    for task in worker.store.tasks():
        for entry in worker.store.history(task.id):
            if entry.event is not None:
                taken.add((task.plan, entry.from_state, entry.event, entry.to_state))
    missing = coverage.wanted - taken
    assert not missing, f"transitions never taken: {sorted(missing)}"
    for recovery in ("ReSubmitPC", "ReSubmitProof", "RePersist"):
        assert any(event == recovery for _, _, event, _ in taken)

    finished = [task for task in worker.store.tasks() if task.state == "Finished"]
    assert {task.plan for task in finished} == {"sealer", "snapup"}
    for task in finished:
        deals = task.data["deals"]
        pieces = [
            (commp_bytes(deal_payload(E2E_SEED, deal["deal_id"], deal["payload_size"])).comm, deal["piece_size"])
            for deal in deals
        ]
        assert task.data["comm_d"] == comm_d_from_pieces(pieces, 2048).hex(), task.sector
        if not deals:
            assert task.data["comm_d"] == zero_commitment(2048).hex()
    assert not [s for s in worker.services.manager.submissions() if s["result"] == "MISMATCHED_SUBMISSION"]


class ExpireTickets(WorkerListener):
    """Moves the chain past the ticket's expiry while each sector waits to run PC1 (once per sector)."""

    def __init__(self, clock: MovableClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.expired: set[str] = set()

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        sector = thread.task.sector
        if destination == "TicketAssigned" and sector not in self.expired:
            self.expired.add(sector)
            self.clock.skew += self.seconds


async def wait_for(condition: Any, timeout: float = 20.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_an_expired_ticket_pauses_then_resume_into_tree_d_built_or_abort(tmp_path: Path) -> None:
    config = load_machine_file(
        devnet_machine(tmp_path, ["sealer", "sealer"], {"ticket_expiry_epochs": 100, "block_time": '"10ms"'}),
        tmp_path / "home",
    )
    clock = MovableClock()
    worker = build_worker(config, clock=clock)
    worker.add_listener(ExpireTickets(clock, seconds=2.0))  # past the expiry, while a real PC1 takes ~30 ms
    closed: dict[int, Any] = {}

    class Closed(WorkerListener):
        def task_closed(self, thread: Any, task: Any) -> None:
            closed.setdefault(thread.index, task)

    worker.add_listener(Closed())

    async def story() -> tuple[dict, Any]:
        running = asyncio.ensure_future(worker.run())
        await wait_for(lambda: all(info.paused for info in worker.threads()))
        for info in worker.threads():
            assert info.state == "PC2Done"
            assert "ticket expired" in info.last_error and "TreeDBuilt" in info.last_error
        first_ticket = worker.store.task(worker.thread(0).task_id).data["ticket"]
        aborted = worker.thread(1)
        worker.resume(0, "TreeDBuilt")
        worker.resume(1, "Abort", reason="ticket expired, sector dropped")
        await wait_for(lambda: 0 in closed and 1 in closed)
        worker.drain()
        await running
        return first_ticket, aborted

    first_ticket, aborted = asyncio.run(story())
    assert closed[0].state == "Finished"
    assert closed[0].data["ticket"]["epoch"] > first_ticket["epoch"], "a fresh ticket was drawn"
    assert closed[1].state == ABORT_STATE
    leftovers = [path for path in Path(aborted.location, "data").rglob("*") if aborted.sector in path.name]
    assert leftovers == []
    record = worker.services.manager.sector_record(SectorId.parse(aborted.sector))
    assert record["status"] == "aborted"
    assert record["abort_reason"] == "aborted by operator from PC2Done: ticket expired, sector dropped"

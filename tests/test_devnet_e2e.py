"""End to end, in process: both shipped plans seal sectors against the devnet, failures injected at high rates.

The story an operator would tell: sectors go through every transition of the seed's flows, recovery paths
included (ReSubmitPC, ReSubmitProof, RePersist); the CommD of every finished sector is what anyone recomputes
from its deals' data; an expired ticket pauses a thread until it is resumed into TreeDBuilt; a sector resumed
into Abort is cleaned up and the chain hears of it.

The chain runs on a `ChainClock`: it moves when threads wait on it, not with wall time, so a loaded machine
(simulated below by stalling the event loop) changes nothing in the story.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from _devnet_helpers import ChainClock, devnet_machine

from sealer_fsm.assembly import build_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.manager import SectorId
from sealer_fsm.manager.devnet import deal_payload
from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.proofs import comm_d_from_pieces, commp_bytes, zero_commitment
from sealer_fsm.runtime import Worker, WorkerListener

E2E_SEED = 3
BLOCK_TIME = 0.01  # the machine files' block_time: one epoch per poll on the ChainClock


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


class StallTheLoop(WorkerListener):
    """What a loaded machine does to the worker: the event loop stops for a while at some state changes."""

    def __init__(self, at: str, seconds: float = 0.05) -> None:
        self.at = at
        self.seconds = seconds

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        if destination == self.at:
            time.sleep(self.seconds)


async def run_until_drained(worker: Worker, timeout: float = 240.0) -> None:
    await asyncio.wait_for(worker.run(), timeout)


def test_both_plans_take_every_transition_and_comm_d_is_independently_right(tmp_path: Path) -> None:
    rates = {
        "precommit_fail_rate": 0.35,
        "proof_fail_rate": 0.35,
        "files_missed_rate": 0.5,
        "rpc_error_rate": 0.1,
        "abort_rate": 0.05,
        "seed": E2E_SEED,
        "ticket_expiry_epochs": 10**6,  # this story is not about expiry (the next one is)
    }
    config = load_machine_file(
        devnet_machine(tmp_path, ["sealer", "sealer", "sealer", "snapup"], rates, "enable_deals = true"),
        tmp_path / "home",
    )
    clock = ChainClock(BLOCK_TIME)
    worker = build_worker(config, clock=clock, manager_calls=clock)
    coverage = Coverage(worker, finished_at_least=6)
    worker.add_listener(coverage)
    worker.add_listener(StallTheLoop(at="PC2Done"))
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
    devnet = worker.services.manager
    assert not [s for s in devnet.submissions() if s["result"] == "MISMATCHED_SUBMISSION"]
    assert_nothing_accepted_twice(worker, devnet)


def assert_nothing_accepted_twice(worker: Worker, devnet: Any) -> None:
    """Lost replies were injected (rpc_error_rate), so many submissions were sent twice: the chain accepted a
    sector's pre-commit (proof) once, plus once per ReSubmitPC (ReSubmitProof) the worker went through after
    hearing of a failure, and an upgrade only once (issue 10 #4)."""
    accepted: dict[tuple[int, str], int] = {}
    for submission in devnet.submissions():
        if submission["result"] == "ACCEPTED":
            key = (submission["sector"], submission["kind"])
            accepted[key] = accepted.get(key, 0) + 1
    resubmits: dict[tuple[int, str], int] = {}
    for task in worker.store.tasks():
        number = task.data.get("number")
        for entry in worker.store.history(task.id):
            kind = {"ReSubmitPC": "precommit", "ReSubmitProof": "proof"}.get(entry.event or "")
            if kind:
                resubmits[number, kind] = resubmits.get((number, kind), 0) + 1
    assert any(count > 1 for count in accepted.values()), "the story never resubmitted"
    for (number, kind), count in accepted.items():
        allowed = 1 if kind == "snapup" else 1 + resubmits.get((number, kind), 0)
        assert count <= allowed, f"sector {number}: {kind} accepted {count} times, {allowed - 1} resubmissions"

class ExpireTickets(WorkerListener):
    """Moves the chain past the ticket's expiry while each sector waits to run PC1 (once per sector, for the first
    `sectors` sectors: a later sector must not expire the fresh ticket of one resumed meanwhile)."""

    def __init__(self, clock: ChainClock, blocks: int, sectors: int) -> None:
        self.clock = clock
        self.blocks = blocks
        self.sectors = sectors
        self.expired: set[str] = set()

    def state_changed(self, thread: Any, source: str, event: str, destination: str) -> None:
        sector = thread.task.sector
        if destination == "TicketAssigned" and sector not in self.expired and len(self.expired) < self.sectors:
            self.expired.add(sector)
            self.clock.advance(self.blocks)


async def wait_for(condition: Any, timeout: float = 20.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_an_expired_ticket_pauses_then_resume_into_tree_d_built_or_abort(tmp_path: Path) -> None:
    config = load_machine_file(
        devnet_machine(tmp_path, ["sealer", "sealer"], {"ticket_expiry_epochs": 5, "block_time": '"10ms"'}),
        tmp_path / "home",
    )
    clock = ChainClock(BLOCK_TIME)
    worker = build_worker(config, clock=clock, manager_calls=clock)
    worker.add_listener(ExpireTickets(clock, blocks=10, sectors=2))
    # A loaded machine between the fresh ticket and its pre-commit (a real PC1 or a stalled loop): on wall-time
    # epochs this expired the new ticket too and the thread never finished; the chain clock does not move.
    worker.add_listener(StallTheLoop(at="PC1Done", seconds=0.1))
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


def run_until_first_task_closes(config: Any, clock: ChainClock) -> Any:
    """Run a worker until its first task ends (or its thread pauses); returns that task (or the pause reason)."""
    worker = build_worker(config, clock=clock, manager_calls=clock)
    closed: list[Any] = []

    class FirstClosed(WorkerListener):
        def task_closed(self, thread: Any, task: Any) -> None:
            closed.append(task)
            worker.drain()

    worker.add_listener(FirstClosed())

    async def story() -> Any:
        running = asyncio.ensure_future(worker.run())
        await wait_for(lambda: closed or worker.threads()[0].paused)
        worker.drain()
        await running
        return closed[0] if closed else worker.threads()[0].last_error

    try:
        return asyncio.run(story())
    finally:
        worker.close()


def test_snapup_reads_the_old_replica_from_a_store_now_read_only(tmp_path: Path) -> None:
    """Issue 10 #19: a CC sector persisted in store b; b is then made read-only (it is full, say). The upgrade
    reads the old replica from b, as the reference links or copies it, and persists the new one into a.
    It used to end permanent: read-only stores were left out of every lookup."""
    clock = ChainClock(BLOCK_TIME)
    machine = devnet_machine(tmp_path, ["sealer"])
    sealed = run_until_first_task_closes(load_machine_file(machine, tmp_path / "home"), clock)
    assert sealed.state == "Finished" and sealed.data["persist_instance"] == "b" and sealed.data["deals"] == []
    store_b = tmp_path / "home" / "store-b"
    before = {path: path.read_bytes() for path in store_b.rglob("*") if path.is_file()}

    (tmp_path / "again").mkdir()
    machine = devnet_machine(tmp_path / "again", ["snapup"], readonly=("b",))
    upgraded = run_until_first_task_closes(load_machine_file(machine, tmp_path / "home"), clock)
    assert not isinstance(upgraded, str), f"the snapup thread paused: {upgraded}"
    assert upgraded.state == "Finished" and upgraded.sector == sealed.sector
    assert upgraded.data["access_instance"] == "b" and upgraded.data["persist_instance"] == "a"
    store_a = tmp_path / "home" / "store-a"
    assert (store_a / "update" / sealed.sector).is_file() and (store_a / "update-cache" / sealed.sector).is_dir()
    assert {path: path.read_bytes() for path in store_b.rglob("*") if path.is_file()} == before, "b is only read"

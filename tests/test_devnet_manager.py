"""The devnet manager on its own: epochs from an injected clock, result codes, tickets, deals, snapup offers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _devnet_helpers import ManualClock, devnet_config
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm import simulated
from sealer_fsm.manager import ManagerError, OnChainState, PreCommitInfo, SectorId, SubmitResult
from sealer_fsm.manager.devnet import DevnetManager, deal_payload
from sealer_fsm.proofs import comm_d_from_pieces, commp_bytes, replica_id

SECTOR_SIZE = 2048


def run(coroutine):
    return asyncio.run(coroutine)


def make_devnet(tmp_path: Path, clock: ManualClock | None = None, **config) -> DevnetManager:
    stores = {"a": tmp_path / "store-a"}
    return DevnetManager(devnet_config(**config), tmp_path, stores, now=(clock or ManualClock()).now)


async def precommit_info(devnet: DevnetManager, sector: SectorId) -> PreCommitInfo:
    """What an honest worker computes: CommD from the deals' data, the simulated CommR, the assigned ticket."""
    deals = await devnet.acquire_deals(sector, None)
    pieces = [
        (commp_bytes(deal_payload(devnet.config.seed, d.deal_id, d.payload_size)).comm, d.piece_size) for d in deals
    ]
    comm_d = comm_d_from_pieces(pieces, SECTOR_SIZE)
    ticket = await devnet.assign_ticket(sector)
    replica = replica_id(sector.miner, sector.number, ticket.value, comm_d, 5)
    return PreCommitInfo(simulated.comm_r(replica, comm_d)[2], comm_d, ticket)


def test_sector_numbers_and_epochs_follow_the_injected_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock)
    first = run(devnet.allocate_sector(None, None))
    second = run(devnet.allocate_sector(None, None))
    assert (first.id.name, second.id.name) == ("s-t01000-1", "s-t01000-2")
    assert devnet.clock.head() == 0
    clock.at += 5.5
    assert devnet.clock.head() == 5


def test_allocation_respects_allowed_miners_and_sizes(tmp_path: Path) -> None:
    devnet = make_devnet(tmp_path)
    assert run(devnet.allocate_sector([1234], None)) is None
    assert run(devnet.allocate_sector(None, [8 << 20])) is None
    assert run(devnet.allocate_sector([1000], [2048])) is not None


def test_deal_data_is_reproducible_from_seed_and_deal_id(tmp_path: Path) -> None:
    devnet = make_devnet(tmp_path, seed=3)
    dealt = []
    for _ in range(12):
        sector = run(devnet.allocate_sector(None, None)).id
        dealt += run(devnet.acquire_deals(sector, None))
    assert dealt, "a dozen sectors should get some deals"
    assert len({deal.piece_size for deal in dealt}) > 1, "deals come in several sizes"
    for deal in dealt:
        data = deal_payload(3, deal.deal_id, deal.payload_size)
        assert commp_bytes(data).cid == deal.piece_cid
        assert run(devnet.fetch_piece(deal.piece_cid)) == data


def test_a_precommit_lands_after_the_configured_epochs(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, precommit_epochs=3)
    sector = run(devnet.allocate_sector(None, None)).id
    assert run(devnet.poll_precommit(sector)).state is OnChainState.NOT_FOUND
    info = run(precommit_info(devnet, sector))
    assert run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.ACCEPTED
    seen = []
    for _ in range(4):
        seen.append(run(devnet.poll_precommit(sector)).state)
        clock.at += 1
    assert seen == [OnChainState.PENDING, OnChainState.PACKED, OnChainState.PACKED, OnChainState.LANDED]


def test_an_expired_ticket_is_refused_and_a_new_one_is_drawn(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, ticket_expiry_epochs=5)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    assert run(devnet.assign_ticket(sector)) == info.ticket, "a valid ticket is handed out again"
    clock.at += 6
    reply = run(devnet.submit_precommit(sector, info, False))
    assert reply.result is SubmitResult.MISMATCHED_SUBMISSION
    assert "ticket expired" in reply.desc and "TreeDBuilt" in reply.desc
    fresh = run(devnet.assign_ticket(sector))
    assert fresh.epoch == 6 and fresh.value != info.ticket.value


def test_a_wrong_comm_r_is_a_mismatched_submission(tmp_path: Path) -> None:
    devnet = make_devnet(tmp_path)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    wrong = PreCommitInfo(bytes(32), info.comm_d, info.ticket)
    reply = run(devnet.submit_precommit(sector, wrong, False))
    assert reply.result is SubmitResult.MISMATCHED_SUBMISSION and "CommR" in reply.desc


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["same", "other", "tick"]), min_size=1, max_size=8))
def test_repeated_submissions_are_duplicates_and_different_ones_mismatch(tmp_path_factory, actions) -> None:
    """After one accepted pre-commit, resending it is always DuplicateSubmit (crash-safe), whatever time passed,
    and a different one is always MismatchedSubmission; the sector's pre-commit never changes."""
    tmp_path = tmp_path_factory.mktemp("devnet")
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    assert run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.ACCEPTED
    other = PreCommitInfo(bytes(32), info.comm_d, info.ticket)
    for action in actions:
        if action == "tick":
            clock.at += 1
            continue
        reply = run(devnet.submit_precommit(sector, info if action == "same" else other, action == "same"))
        expected = SubmitResult.DUPLICATE_SUBMIT if action == "same" else SubmitResult.MISMATCHED_SUBMISSION
        assert reply.result is expected
    assert devnet.sector_record(sector)["comm_r"] == info.comm_r.hex()
    assert devnet.sector_record(sector)["precommit_attempts"] == 1


@pytest.mark.parametrize(("rate", "expected"), [(0.0, OnChainState.LANDED), (1.0, OnChainState.FAILED)])
def test_precommit_fail_rate_decides_the_landing(tmp_path: Path, rate: float, expected: OnChainState) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, precommit_fail_rate=rate, precommit_epochs=1)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    run(devnet.submit_precommit(sector, info, False))
    clock.at += 1
    assert run(devnet.poll_precommit(sector)).state is expected


def test_abort_rate_tells_the_worker_to_abort(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, abort_rate=1.0, precommit_epochs=1)
    sector = run(devnet.allocate_sector(None, None)).id
    run(devnet.submit_precommit(sector, run(precommit_info(devnet, sector)), False))
    clock.at += 1
    assert run(devnet.poll_precommit(sector)).state is OnChainState.SHOULD_ABORT


def test_rpc_error_rate_fails_calls_with_manager_errors(tmp_path: Path) -> None:
    from sealer_fsm.manager import ManagerError

    devnet = make_devnet(tmp_path, rpc_error_rate=1.0)
    with pytest.raises(ManagerError, match="injected RPC error in AllocateSector"):
        run(devnet.allocate_sector(None, None))


def test_report_aborted_is_idempotent_and_only_finished_cc_sectors_are_offered(tmp_path: Path) -> None:
    devnet = make_devnet(tmp_path)
    sector = run(devnet.allocate_sector(None, None)).id
    run(devnet.report_aborted(sector, "test"))
    run(devnet.report_aborted(sector, "test again"))
    assert devnet.sector_record(sector)["status"] == "aborted"
    assert devnet.sector_record(sector)["abort_reason"] == "test"
    assert run(devnet.allocate_snapup_sector(None, None)) is None


def test_the_chain_continues_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock)
    run(devnet.allocate_sector(None, None))
    clock.at += 7
    devnet.close()
    reopened = make_devnet(tmp_path, clock)
    assert reopened.clock.head() == 7
    assert run(reopened.allocate_sector(None, None)).id.number == 2


def test_the_simulated_proof_of_a_simulated_sector_is_verified_and_a_wrong_one_rejected(tmp_path: Path) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, precommit_epochs=1, seed_epochs=1)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    run(devnet.submit_precommit(sector, info, False))
    assert run(devnet.wait_seed(sector)).seed is None
    clock.at += 2
    seed = run(devnet.wait_seed(sector)).seed
    replica = replica_id(sector.miner, sector.number, info.ticket.value, info.comm_d, 5)
    proof = simulated.porep_proof(simulated.c1_digest(replica, info.comm_r, info.comm_d, seed.value))
    assert proof.startswith(b"SIMULATED-PROOF-v1") and len(proof) == 192
    forged = proof[:-1] + bytes([proof[-1] ^ 1])
    rejected = run(devnet.submit_proof(sector, forged, False))
    assert rejected.result is SubmitResult.REJECTED  # as damocles-manager answers a proof failing VerifySeal
    assert rejected.desc == "invalid proof: the simulated proof is not the one of this simulated sector's C1"
    assert run(devnet.submit_proof(sector, proof, False)).result is SubmitResult.ACCEPTED
    assert run(devnet.submit_proof(sector, proof, True)).result is SubmitResult.DUPLICATE_SUBMIT


def _lose_first_reply(devnet: DevnetManager, method: str) -> None:
    """Make the first accepted `method` lose its reply, as an injected lost reply does (then answer again)."""
    lost: set[str] = set()

    def lose(called: str, sector: int) -> None:
        if called == method and called not in lost:
            lost.add(called)
            raise ManagerError(f"devnet: injected lost reply from {called} (the submission was applied)")

    devnet._reply_lost = lose  # type: ignore[method-assign]


async def _landed_with_seed(devnet: DevnetManager, clock: ManualClock, sector: SectorId) -> bytes:
    """Pre-commit the sector, let it land and reach its seed; returns the honest proof."""
    info = await precommit_info(devnet, sector)
    assert (await devnet.submit_precommit(sector, info, False)).result is SubmitResult.ACCEPTED
    clock.at += devnet.config.precommit_epochs + devnet.config.seed_epochs
    seed = (await devnet.wait_seed(sector)).seed
    replica = replica_id(sector.miner, sector.number, info.ticket.value, info.comm_d, 5)
    return simulated.porep_proof(simulated.c1_digest(replica, info.comm_r, info.comm_d, seed.value))


@pytest.mark.parametrize("elapsed", [0, 1, 5])
def test_a_precommit_retried_after_a_lost_reply_is_a_duplicate_even_when_its_attempt_will_fail(
    tmp_path: Path, elapsed: int
) -> None:
    """Issue 10 #4: the retry of an accepted submission is not a second attempt, whatever fate was drawn for the
    first; only after a poll told the worker it failed does a (reset) resubmission start attempt 2."""
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, precommit_fail_rate=1.0, precommit_epochs=1)
    _lose_first_reply(devnet, "SubmitPreCommit")
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    with pytest.raises(ManagerError, match="lost reply"):
        run(devnet.submit_precommit(sector, info, False))
    clock.at += elapsed
    assert run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.DUPLICATE_SUBMIT
    assert run(devnet.submit_precommit(sector, info, True)).result is SubmitResult.DUPLICATE_SUBMIT
    assert devnet.sector_record(sector)["precommit_attempts"] == 1
    clock.at += 1
    assert run(devnet.poll_precommit(sector)).state is OnChainState.FAILED
    assert run(devnet.submit_precommit(sector, info, True)).result is SubmitResult.ACCEPTED
    assert run(devnet.submit_precommit(sector, info, True)).result is SubmitResult.DUPLICATE_SUBMIT
    assert devnet.sector_record(sector)["precommit_attempts"] == 2
    accepted = [s for s in devnet.submissions() if s["kind"] == "precommit" and s["result"] == "ACCEPTED"]
    assert len(accepted) == 2


@pytest.mark.parametrize("elapsed", [0, 1, 5])
def test_a_proof_retried_after_a_lost_reply_is_a_duplicate_even_when_its_attempt_will_fail(
    tmp_path: Path, elapsed: int
) -> None:
    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, proof_fail_rate=1.0, precommit_epochs=1, seed_epochs=1, proof_epochs=1)
    _lose_first_reply(devnet, "SubmitProof")
    sector = run(devnet.allocate_sector(None, None)).id
    proof = run(_landed_with_seed(devnet, clock, sector))
    with pytest.raises(ManagerError, match="lost reply"):
        run(devnet.submit_proof(sector, proof, False))
    clock.at += elapsed
    assert run(devnet.submit_proof(sector, proof, False)).result is SubmitResult.DUPLICATE_SUBMIT
    assert run(devnet.submit_proof(sector, proof, True)).result is SubmitResult.DUPLICATE_SUBMIT
    assert devnet.sector_record(sector)["proof_attempts"] == 1
    clock.at += 1
    assert run(devnet.poll_proof(sector)).state is OnChainState.FAILED
    assert run(devnet.submit_proof(sector, proof, True)).result is SubmitResult.ACCEPTED
    assert devnet.sector_record(sector)["proof_attempts"] == 2
    accepted = [s for s in devnet.submissions() if s["kind"] == "proof" and s["result"] == "ACCEPTED"]
    assert len(accepted) == 2


def test_a_snapup_proof_retried_after_a_lost_reply_is_a_duplicate(tmp_path: Path) -> None:
    """The snapup path: an accepted upgrade whose reply was lost answers its identical retry DuplicateSubmit,
    and a different proof for the upgraded sector is a mismatch."""
    from sealer_fsm.manager import SnapupProof

    clock = ManualClock()
    devnet = make_devnet(tmp_path, clock, precommit_epochs=1, seed_epochs=1, proof_epochs=1)
    sector = run(devnet.allocate_sector(None, None)).id
    while run(devnet.acquire_deals(sector, None)):  # a committed-capacity sector, so it can be upgraded
        sector = run(devnet.allocate_sector(None, None)).id
    proof = run(_landed_with_seed(devnet, clock, sector))
    store = tmp_path / "store-a"
    for kind in ("sealed", "update"):
        (store / kind).mkdir(parents=True, exist_ok=True)
        (store / kind / sector.name).write_bytes(b"replica")
        (store / f"{'cache' if kind == 'sealed' else 'update-cache'}" / sector.name).mkdir(parents=True)
    assert run(devnet.submit_persisted(sector, "a", False))
    assert run(devnet.submit_proof(sector, proof, False)).result is SubmitResult.ACCEPTED
    clock.at += 1
    assert run(devnet.poll_proof(sector)).state is OnChainState.LANDED
    run(devnet.report_finalized(sector))
    offer = run(devnet.allocate_snapup_sector(None, None))
    assert offer.sector.id == sector
    pieces = [
        (commp_bytes(deal_payload(devnet.config.seed, d.deal_id, d.payload_size)).comm, d.piece_size)
        for d in offer.deals
    ]
    comm_d = comm_d_from_pieces(pieces, SECTOR_SIZE)
    new_comm_r = simulated.snap_comm_r(offer.old_comm_r, comm_d)
    upgrade = SnapupProof(
        comm_r=new_comm_r,
        comm_d=comm_d,
        access_instance="a",
        piece_cids=[deal.piece_cid for deal in offer.deals],
        proof=simulated.snap_proof(sector.miner, sector.number, offer.old_comm_r, new_comm_r, comm_d),
    )
    _lose_first_reply(devnet, "SubmitSnapUpProof")
    with pytest.raises(ManagerError, match="lost reply"):
        run(devnet.submit_snapup_proof(sector, upgrade))
    assert run(devnet.submit_snapup_proof(sector, upgrade)).result is SubmitResult.DUPLICATE_SUBMIT
    forged = SnapupProof(upgrade.comm_r, upgrade.comm_d, "a", upgrade.piece_cids, upgrade.proof[:-1] + b"\0")
    assert run(devnet.submit_snapup_proof(sector, forged)).result is SubmitResult.MISMATCHED_SUBMISSION
    assert devnet.sector_record(sector)["snap_attempts"] == 1
    assert [s["result"] for s in devnet.submissions() if s["kind"] == "snapup"].count("ACCEPTED") == 1


def test_a_devnet_database_from_before_the_attempt_columns_is_upgraded_on_open(tmp_path: Path) -> None:
    import sqlite3

    make_devnet(tmp_path).close()
    with sqlite3.connect(tmp_path / "devnet.db") as db:
        for column in ("precommit_failure_seen", "proof_failure_seen", "snap_submission"):
            db.execute(f"ALTER TABLE sectors DROP COLUMN {column}")
    devnet = make_devnet(tmp_path)
    sector = run(devnet.allocate_sector(None, None)).id
    info = run(precommit_info(devnet, sector))
    assert run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.ACCEPTED
    assert run(devnet.submit_precommit(sector, info, False)).result is SubmitResult.DUPLICATE_SUBMIT


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 2 * SECTOR_SIZE)), st.integers(0, 2**32))
def test_deals_never_use_less_space_than_asked_else_none(tmp_path_factory, min_used_space, seed) -> None:
    """Issue 10 #21, min_deal_space: AcquireDeals' MinUsedSpace is met by the deals' padded piece sizes, or the
    answer is no deals at all (a committed-capacity sector); asking again gives the same answer."""
    devnet = make_devnet(tmp_path_factory.mktemp("devnet"), seed=seed)
    for _ in range(4):
        sector = run(devnet.allocate_sector(None, None)).id
        deals = run(devnet.acquire_deals(sector, None, min_used_space=min_used_space))
        assert not deals or sum(deal.piece_size for deal in deals) >= (min_used_space or 0)
        assert run(devnet.acquire_deals(sector, None, min_used_space=min_used_space)) == deals


def test_read_only_stores_are_known_but_never_reserved(tmp_path: Path) -> None:
    """Issue 10 #19: the devnet knows read-only stores (StoreBasicInfo, the files of a persisted sector) as the
    reference manager does, and never hands one out to persist into."""
    devnet = DevnetManager(
        devnet_config(), tmp_path, {"w": tmp_path / "w"}, now=ManualClock().now, readonly_stores={"r": tmp_path / "r"}
    )
    sectors = [run(devnet.allocate_sector(None, None)).id for _ in range(6)]
    assert {run(devnet.reserve_space(sector, 4096, [])).name for sector in sectors} == {"w"}
    assert run(devnet.reserve_space(sectors[0], 4096, ["r"])) is None
    assert run(devnet.store_info("r")).path == str(tmp_path / "r")
    for kind in ("sealed", "cache"):
        (tmp_path / "r" / kind / sectors[0].name).mkdir(parents=True)
    (tmp_path / "r" / "sealed" / sectors[0].name).rmdir()
    (tmp_path / "r" / "sealed" / sectors[0].name).write_bytes(b"replica")
    assert run(devnet.submit_persisted(sectors[0], "r", False))


def test_a_finished_sector_whose_deals_were_never_asked_for_is_offered_for_snapup(tmp_path: Path) -> None:
    """With deals disabled a sealer thread never calls AcquireDeals; its sector is committed capacity all the
    same, and must be offered for an upgrade (it never was)."""
    devnet = make_devnet(tmp_path)
    sector = run(devnet.allocate_sector(None, None)).id
    devnet.db.update_sector(sector.number, status="finalized", persisted="a", comm_r="11" * 32)
    offer = run(devnet.allocate_snapup_sector(None, None))
    assert offer is not None and offer.sector.id == sector and offer.access_instance == "a"

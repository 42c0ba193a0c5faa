"""The embedded devnet sector manager: one miner on a simulated chain, with failure injection.

It answers the worker as the reference manager would (reference-damocles.md sections 1.4, 1.5 and 7): it
allocates sector numbers, makes deals from seeded data, draws tickets and seeds from its chain, checks every
submission against what it can recompute or verify itself (CommD from its deals, the vanilla proofs behind a
proof, the simulated stand-ins of sectors sealed so), lets messages land a configured number of epochs later,
and injects the failures that drive the plans' recovery paths: on-chain Failed (ReSubmitPC / ReSubmitProof),
FilesMissed (RePersist), ShouldAbort and RPC errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sealer_fsm import simulated
from sealer_fsm.config import DevnetConfig
from sealer_fsm.manager._types import (
    SEAL_PROOF_TYPES,
    AllocatedSector,
    Deal,
    ManagerError,
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    SectorId,
    SectorStateNotFound,
    SectorStateReply,
    SeedWait,
    SnapupAllocation,
    SnapupProof,
    StateReport,
    StoreInfo,
    SubmitReply,
    SubmitResult,
    ThreadSummary,
    WorkerPing,
    WorkerPingRecord,
)
from sealer_fsm.manager.devnet import _verify
from sealer_fsm.manager.devnet._chain import Draws, EpochClock, Now, deal_piece_sizes
from sealer_fsm.manager.devnet._db import DATABASE_NAME, DevnetDatabase, dumps
from sealer_fsm.manager.devnet._requests import RequestService
from sealer_fsm.proofs import commp_bytes

ACCEPTED = SubmitReply(SubmitResult.ACCEPTED)
log = logging.getLogger("sealer_fsm.devnet")

# Share of sealer sectors the devnet leaves without deals (committed capacity), so snapup threads get work.
CC_SHARE = 0.5


class DevnetManager(RequestService):
    """Implements `SectorManager`; `now` is the clock the epochs derive from (tests inject their own).

    `stores` are the persist stores it hands out (StoreReserveSpace); `readonly_stores` it knows too, as the
    reference manager does: they still hold sectors (StoreBasicInfo, snapup access) but take no new ones."""

    def __init__(
        self,
        config: DevnetConfig,
        home: Path,
        stores: Mapping[str, Path],
        now: Now | None = None,
        readonly_stores: Mapping[str, Path] | None = None,
    ) -> None:
        self.config = config
        self.stores = dict(stores)
        self.all_stores = {**(readonly_stores or {}), **self.stores}
        self.db = DevnetDatabase(Path(home) / DATABASE_NAME)
        self.draws = Draws(config.seed)
        now = now or time.time
        genesis = float(self.db.chain_value("genesis", repr(now())))
        self.clock = EpochClock(genesis, config.block_time, now)
        # The seal proof of every sector it allocates (None for a size with no registered proof).
        self.proof_type = SEAL_PROOF_TYPES.get(config.sector_size) if config.proof_type is None else config.proof_type
        self._calls: Counter[tuple[str, int]] = Counter()

    def close(self) -> None:
        self.db.close()

    # -- failure injection -------------------------------------------------------------------------------------

    def _call(self, method: str, sector: int = 0) -> None:
        """Fail this call with an injected RPC error at `rpc_error_rate` (keyed by method, sector and count)."""
        self._calls[method, sector] += 1
        if self.draws.chance(self.config.rpc_error_rate, "rpc", method, sector, self._calls[method, sector]):
            raise ManagerError(f"devnet: injected RPC error in {method}")

    def _reply_lost(self, method: str, sector: int) -> None:
        """After a submission was applied, lose the reply at `rpc_error_rate`: the worker must resubmit safely."""
        if self.draws.chance(self.config.rpc_error_rate, "lost", method, sector, self._calls[method, sector]):
            raise ManagerError(f"devnet: injected lost reply from {method} (the submission was applied)")

    def _row(self, sector: SectorId) -> Any:
        row = self.db.sector(sector.number)
        if row is None or row["miner"] != sector.miner:
            raise SectorStateNotFound(f"devnet: unknown sector {sector.name}")
        return row

    def _check_proof_type(self, row: Any, proof_type: int | None) -> str | None:
        """Why `proof_type` is not the sector's seal proof (a sentence), or None when it is or was not given."""
        if proof_type is None or proof_type == self.proof_type:
            return None
        return f"seal proof type {proof_type} is not the sector's ({self.proof_type})"

    # -- allocation and deals ----------------------------------------------------------------------------------

    def _allowed(self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None) -> bool:
        miner_ok = not allowed_miners or self.config.miner in allowed_miners
        return miner_ok and (not allowed_sizes or self.config.sector_size in allowed_sizes)

    async def allocate_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> AllocatedSector | None:
        """A new sector, or the one already given for `request_id` (None: no such guarantee)."""
        self._call("AllocateSector")
        if not self._allowed(allowed_miners, allowed_sizes):
            return None
        row = self.db.allocate(request_id, self.config.miner, self.config.sector_size)
        self._reply_lost("AllocateSector", 0)
        return AllocatedSector(SectorId(row["miner"], row["number"]), row["sector_size"], self.proof_type)

    async def acquire_deals(
        self, sector: SectorId, max_deals: int | None, min_used_space: int | None = None
    ) -> list[Deal]:
        """The sector's deals, decided once: none (committed capacity) for about half the sectors, and none when
        the deals drawn would fill less than `min_used_space` bytes of the sector (the reference's MinUsedSpace)."""
        self._call("AcquireDeals", sector.number)
        row = self._row(sector)
        if row["deals"] is not None:
            return self._deals(json.loads(row["deals"]))
        deals = []
        if not self.draws.chance(CC_SHARE, "cc", sector.number):
            deals = self._make_deals(sector.number, ("deals", sector.number), max_deals, min_used_space)
        self.db.update_sector(sector.number, deals=dumps([deal.deal_id for deal in deals]))
        return deals

    def _make_deals(
        self, sector: int, key: object, max_deals: int | None, min_used_space: int | None = None
    ) -> list[Deal]:
        sizes = deal_piece_sizes(self.draws, key, self.config.sector_size, max_deals)
        if sum(piece_size for piece_size, _ in sizes) < (min_used_space or 0):
            return []
        deals = []
        for piece_size, payload_size in sizes:
            deal_id = self.db.next_counter("deal_id")
            commitment = commp_bytes(self.draws.deal_payload(deal_id, payload_size))
            assert commitment.piece_size == piece_size
            self.db.insert_deal(deal_id, sector, commitment.cid, piece_size, payload_size)
            deals.append(Deal(deal_id, commitment.cid, piece_size, payload_size))
        return deals

    def _deals(self, deal_ids: list[int]) -> list[Deal]:
        return [
            Deal(row["deal_id"], row["piece_cid"], row["piece_size"], row["payload_size"])
            for row in self.db.deals(deal_ids)
        ]

    async def fetch_piece(self, piece_cid: str) -> bytes:
        self._call("FetchPiece")
        row = self.db.deal_by_cid(piece_cid)
        if row is None:
            raise ManagerError(f"devnet: no deal has piece {piece_cid}")
        return self.draws.deal_payload(row["deal_id"], row["payload_size"])

    # -- pre-commit --------------------------------------------------------------------------------------------

    async def assign_ticket(self, sector: SectorId) -> Randomness:
        self._call("AssignTicket", sector.number)
        row = self._row(sector)
        head = self.clock.head()
        if row["ticket"] is not None and not self._ticket_expired(row["ticket_epoch"], head):
            return Randomness(bytes.fromhex(row["ticket"]), row["ticket_epoch"])
        ticket = Randomness(self.draws.randomness("ticket", head, sector.miner), head)
        self.db.update_sector(sector.number, ticket=ticket.value.hex(), ticket_epoch=ticket.epoch)
        return ticket

    def _ticket_expired(self, ticket_epoch: int, head: int) -> bool:
        return head - ticket_epoch > self.config.ticket_expiry_epochs

    async def submit_precommit(
        self, sector: SectorId, info: PreCommitInfo, reset: bool, *, proof_type: int | None = None
    ) -> SubmitReply:
        self._call("SubmitPreCommit", sector.number)
        row = self._row(sector)
        head = self.clock.head()
        wrong_proof = self._check_proof_type(row, proof_type)
        if wrong_proof:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, wrong_proof)
        reply = self._judge_precommit(row, info, head)
        accepted = {"comm_d": info.comm_d.hex(), "comm_r": info.comm_r.hex()}
        return self._settle_submission("precommit", "SubmitPreCommit", sector, row, head, reply, accepted)

    def _settle_submission(
        self,
        kind: str,
        method: str,
        sector: SectorId,
        row: Any,
        head: int,
        reply: SubmitReply,
        accepted: dict[str, Any],
    ) -> SubmitReply:
        """Log a submission; an accepted one is stored with `accepted` as a new attempt, gets its landing outcome
        drawn, and its reply may be lost (so the worker resubmits and must get a duplicate, not a conflict)."""
        changes: dict[str, Any] = {}
        if reply.result is SubmitResult.ACCEPTED:
            attempts = row[f"{kind}_attempts"] + 1
            changes = {
                **accepted,
                f"{kind}_epoch": head,
                f"{kind}_attempts": attempts,
                f"{kind}_outcome": self._landing_outcome(kind, sector.number, attempts),
                f"{kind}_failure_seen": 0,
            }
        self.db.record_submission(head, sector.number, kind, reply.result.name, reply.desc, changes)
        if reply.result is SubmitResult.ACCEPTED:
            self._reply_lost(method, sector.number)
        return reply

    @staticmethod
    def _pending(row: Any, kind: str) -> bool:
        """Whether the sector's latest `kind` attempt still stands: accepted, and no poll has yet told the worker
        it failed. Whatever fate was drawn for it, a submission until then is a retry of that attempt (after a
        lost reply or a crash), never a new one: nothing is submitted twice."""
        return bool(row[f"{kind}_attempts"]) and not row[f"{kind}_failure_seen"]

    def _judge_precommit(self, row: Any, info: PreCommitInfo, head: int) -> SubmitReply:
        if row["status"] == "aborted":
            return SubmitReply(SubmitResult.REJECTED, "the sector was aborted")
        if self._pending(row, "precommit"):
            same = (row["comm_r"], row["comm_d"]) == (info.comm_r.hex(), info.comm_d.hex())
            same = same and (row["ticket"], row["ticket_epoch"]) == (info.ticket.value.hex(), info.ticket.epoch)
            if same:
                return SubmitReply(SubmitResult.DUPLICATE_SUBMIT, "already pre-committed")
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "a different pre-commit was submitted")
        if row["ticket"] != info.ticket.value.hex() or row["ticket_epoch"] != info.ticket.epoch:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "the ticket is not the one assigned")
        if self._ticket_expired(info.ticket.epoch, head):
            desc = (
                f"ticket expired: drawn at epoch {info.ticket.epoch}, chain head {head},"
                f" tickets expire after {self.config.ticket_expiry_epochs} epochs;"
                " resume the thread into TreeDBuilt to draw a new ticket"
            )
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, desc)
        fault = _verify.precommit_fault(row, self.proof_type, self._deals(json.loads(row["deals"] or "[]")), info)
        if fault:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, fault)
        return SubmitReply(SubmitResult.ACCEPTED)

    def _landing_outcome(self, kind: str, number: int, attempt: int) -> str:
        if kind == "precommit" and self.draws.chance(self.config.abort_rate, "abort", number, attempt):
            return "abort"
        rate = self.config.precommit_fail_rate if kind == "precommit" else self.config.proof_fail_rate
        return "failed" if self.draws.chance(rate, kind, number, attempt) else "landed"

    def _poll(self, submitted_epoch: int | None, outcome: str | None, epochs: int) -> PollReply:
        if submitted_epoch is None:
            return PollReply(OnChainState.NOT_FOUND, "nothing was submitted")
        waited = self.clock.head() - submitted_epoch
        if waited < epochs:
            return PollReply(OnChainState.PACKED if waited > 0 else OnChainState.PENDING)
        if outcome == "failed":
            return PollReply(OnChainState.FAILED, "the message failed on chain (injected)")
        if outcome == "abort":
            return PollReply(OnChainState.SHOULD_ABORT, "the chain dropped the sector (injected)")
        return PollReply(OnChainState.LANDED)

    def _poll_attempt(self, kind: str, sector: SectorId, epochs: int) -> PollReply:
        """Where the latest `kind` attempt is on chain; once the worker hears it failed, it may submit anew."""
        row = self._row(sector)
        reply = self._poll(row[f"{kind}_epoch"], row[f"{kind}_outcome"], epochs)
        if reply.state is OnChainState.FAILED and not row[f"{kind}_failure_seen"]:
            self.db.update_sector(sector.number, **{f"{kind}_failure_seen": 1})
        return reply

    async def poll_precommit(self, sector: SectorId) -> PollReply:
        self._call("PollPreCommitState", sector.number)
        return self._poll_attempt("precommit", sector, self.config.precommit_epochs)

    # -- persistence -------------------------------------------------------------------------------------------

    async def reserve_space(self, sector: SectorId, size: int, candidates: list[str]) -> StoreInfo | None:
        self._call("StoreReserveSpace", sector.number)
        names = sorted(name for name in self.stores if not candidates or name in candidates)
        if not names:
            return None
        name = names[sector.number % len(names)]
        return StoreInfo(name, str(self.stores[name]))

    async def store_info(self, instance: str) -> StoreInfo | None:
        self._call("StoreBasicInfo")
        path = self.all_stores.get(instance)
        return None if path is None else StoreInfo(instance, str(path))

    async def submit_persisted(self, sector: SectorId, instance: str, is_upgrade: bool) -> bool:
        self._call("SubmitPersistedEx", sector.number)
        self._row(sector)
        kinds = ("update", "update-cache") if is_upgrade else ("sealed", "cache")
        store = self.all_stores.get(instance)
        if store is None or not _verify.files_present(store, sector.name, kinds):
            return False
        if not self._rebuild_persisted(sector.number, instance, is_upgrade):
            return False
        if not is_upgrade:
            self.db.update_sector(sector.number, persisted=instance)
        return True

    # -- commit ------------------------------------------------------------------------------------------------

    def _landed_epoch(self, row: Any) -> int | None:
        if row["precommit_outcome"] != "landed" or row["precommit_epoch"] is None:
            return None
        landed = row["precommit_epoch"] + self.config.precommit_epochs
        return landed if self.clock.head() >= landed else None

    async def wait_seed(self, sector: SectorId, *, proof_type: int | None = None) -> SeedWait:
        self._call("WaitSeed", sector.number)
        row = self._row(sector)
        wrong_proof = self._check_proof_type(row, proof_type)
        if wrong_proof:
            raise ManagerError(f"devnet: {wrong_proof}")
        landed = self._landed_epoch(row)
        if landed is None:
            return SeedWait(False, 0.0, None)
        seed_epoch = landed + self.config.seed_epochs
        if self.clock.head() < seed_epoch:
            return SeedWait(True, self.clock.seconds_until(seed_epoch), None)
        if row["seed_epoch"] != seed_epoch:
            self.db.update_sector(sector.number, seed_epoch=seed_epoch)
        return SeedWait(False, 0.0, Randomness(self.draws.randomness("seed", seed_epoch, sector.miner), seed_epoch))

    async def submit_proof(self, sector: SectorId, proof: bytes, reset: bool) -> SubmitReply:
        """Judged as damocles-manager's commit manager does: an attempt still standing answers Duplicate (the same
        proof) or Mismatched; a simulated proof that fails its check is Rejected with the reason and never stored,
        so it never lands. The check (the vanilla proofs' verification) runs off the event loop. An external
        prover's proof cannot be verified here (no Groth16 keys): it is accepted, labelled unverified, when it has
        the length of a real one."""
        self._call("SubmitProof", sector.number)
        stored = simulated.proof_of_submission(proof).hex()  # what is kept and compared: the 192-byte proof
        reply = self._standing_proof(self._row(sector), stored)
        if reply is None:
            row = self._row(sector)
            if simulated.is_simulated(proof):
                seed = self.draws.randomness("seed", row["seed_epoch"], row["miner"])
                fault = await asyncio.to_thread(_verify.porep_fault, row, self.proof_type, seed, proof)
                verdict = SubmitReply(SubmitResult.REJECTED, f"invalid proof: {fault}") if fault else ACCEPTED
            else:
                verdict = _verify.judge_external_proof(row["sector_size"], proof)
            # Another submission may have been accepted while this one was verified: judge it against that.
            reply = self._standing_proof(self._row(sector), stored) or verdict
        row, head = self._row(sector), self.clock.head()
        return self._settle_submission("proof", "SubmitProof", sector, row, head, reply, {"proof": stored})

    def _standing_proof(self, row: Any, stored: str) -> SubmitReply | None:
        """The answer that needs no verification (None: verify the proof)."""
        if row["status"] == "aborted":
            return SubmitReply(SubmitResult.REJECTED, "the sector was aborted")
        if self._pending(row, "proof"):
            if row["proof"] == stored:
                return SubmitReply(SubmitResult.DUPLICATE_SUBMIT, "proof already submitted")
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "a different proof was submitted")
        if self._landed_epoch(row) is None or row["seed_epoch"] is None:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "no landed pre-commit and seed for this sector")
        return None

    async def poll_proof(self, sector: SectorId) -> PollReply:
        self._call("PollProofState", sector.number)
        reply = self._poll_attempt("proof", sector, self.config.proof_epochs)
        if reply.state is OnChainState.LANDED and self._row(sector)["status"] == "allocated":
            self.db.update_sector(sector.number, status="proven")
        return reply

    # -- reports -----------------------------------------------------------------------------------------------

    async def report_state(self, sector: SectorId, report: StateReport) -> SectorStateReply:
        """Keeps the latest report; the reply says the sector was dropped here (aborted, or its upgrade aborted)
        or is finished, so a worker still sealing it aborts it."""
        self._call("ReportState", sector.number)
        row = self._row(sector)
        latest = f"{report.previous} => {report.current} @{report.event} ({report.instance} @ {report.location})"
        if report.failure is not None:
            latest += f" {report.failure.level}: {report.failure.desc}"
        self.db.update_sector(sector.number, latest_state=latest)
        if row["status"] == "aborted":
            return SectorStateReply(True, row["abort_reason"])
        if row["snapup"] == "aborted":
            return SectorStateReply(True, row["abort_reason"])
        if row["snapup"] in ("allocated", "upgraded") or self._served(sector.number):
            return SectorStateReply(False)
        return SectorStateReply(row["status"] == "finalized")

    async def worker_ping(self, ping: WorkerPing) -> None:
        summary = ping.summary
        counts = {
            "threads": summary.threads,
            "empty": summary.empty,
            "paused": summary.paused,
            "running": summary.running,
            "waiting": summary.waiting,
            "errors": summary.errors,
        }
        self.db.record_ping(ping.name, ping.dest, ping.version, counts, int(self.clock.now()))

    async def worker_pings(self) -> list[WorkerPingRecord]:
        """The last ping of every worker this devnet heard from, by name."""
        return [
            WorkerPingRecord(
                WorkerPing(row["name"], row["dest"], row["version"], ThreadSummary(**json.loads(row["summary"]))),
                row["last_ping"],
            )
            for row in self.db.pings()
        ]

    async def report_finalized(self, sector: SectorId) -> None:
        self._call("ReportFinalized", sector.number)
        if self._row(sector)["status"] in ("allocated", "proven"):
            self.db.update_sector(sector.number, status="finalized")

    async def report_aborted(self, sector: SectorId, reason: str) -> None:
        """Idempotent; an abort of an upgrade drops the upgrade, never the finished sector underneath."""
        self._call("ReportAborted", sector.number)
        row = self._row(sector)
        if self._rebuild_aborted(sector.number, reason):
            log.info("devnet: the rebuild of %s aborted: %s", sector.name, reason)
        elif row["status"] == "finalized" and row["snapup"] == "allocated":
            self.db.update_sector(sector.number, snapup="aborted", abort_reason=reason)
        elif row["status"] != "aborted" and row["status"] != "finalized":
            self.db.update_sector(sector.number, status="aborted", abort_reason=reason)
            log.info("devnet: sector %s aborted: %s", sector.name, reason)

    # -- snapup ------------------------------------------------------------------------------------------------

    async def allocate_snapup_sector(
        self, allowed_miners: list[int] | None, allowed_sizes: list[int] | None, *, request_id: str | None = None
    ) -> SnapupAllocation | None:
        """A finished CC sector to upgrade, or the upgrade already given for `request_id`."""
        self._call("AllocateSanpUpSector")
        if not self._allowed(allowed_miners, allowed_sizes):
            return None
        row = None if request_id is None else self.db.snapup_for_request(request_id)
        if row is not None:
            deals = self._deals(json.loads(row["snap_deals"]))
        else:
            row = self.db.first_snapup_candidate()
            if row is None:
                return None
            deals = self._make_deals(row["number"], ("snap deals", row["number"]), None)
            self.db.update_sector(
                row["number"],
                snapup="allocated",
                snap_deals=dumps([deal.deal_id for deal in deals]),
                snap_request_id=request_id,
            )
        self._reply_lost("AllocateSanpUpSector", 0)
        sector = AllocatedSector(SectorId(row["miner"], row["number"]), row["sector_size"], self.proof_type)
        return SnapupAllocation(sector, deals, bytes.fromhex(row["comm_r"]), row["persisted"])

    async def submit_snapup_proof(self, sector: SectorId, proof: SnapupProof) -> SubmitReply:
        self._call("SubmitSnapUpProof", sector.number)
        row = self._row(sector)
        head = self.clock.head()
        changes: dict[str, Any] = {}
        submission = _snapup_submission(proof)
        if row["snapup"] == "upgraded":
            if row["snap_submission"] in (None, submission):  # None: accepted before submissions were recorded
                reply = SubmitReply(SubmitResult.DUPLICATE_SUBMIT, "the upgrade was already accepted")
            else:
                reply = SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "a different upgrade was accepted")
        elif row["snapup"] != "allocated":
            reply = SubmitReply(SubmitResult.REJECTED, "the sector is not being upgraded")
        else:
            reply = self._judge_snapup(row, proof)
            attempts = row["snap_attempts"] + 1
            changes = {"snap_attempts": attempts}
            if reply.result is SubmitResult.ACCEPTED and self.draws.chance(
                self.config.files_missed_rate, "files missed", sector.number, attempts
            ):
                reply = SubmitReply(SubmitResult.FILES_MISSED, "the update files could not be read (injected)")
            if reply.result is SubmitResult.ACCEPTED:
                changes.update(snapup="upgraded", snap_comm_r=proof.comm_r.hex(), snap_submission=submission)
        self.db.record_submission(head, sector.number, "snapup", reply.result.name, reply.desc, changes)
        if reply.result is SubmitResult.ACCEPTED:
            self._reply_lost("SubmitSnapUpProof", sector.number)
        return reply

    def _judge_snapup(self, row: Any, proof: SnapupProof) -> SubmitReply:
        deals = self._deals(json.loads(row["snap_deals"]))
        if [deal.piece_cid for deal in deals] != proof.piece_cids:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, "the pieces are not the upgrade's deals")
        fault = _verify.snapup_fault(row, self.proof_type, deals, proof)
        if fault:
            return SubmitReply(SubmitResult.MISMATCHED_SUBMISSION, fault)
        store = self.all_stores.get(proof.access_instance)
        if store is None or not _verify.files_present(
            store, SectorId(row["miner"], row["number"]).name, ("update", "update-cache")
        ):
            return SubmitReply(SubmitResult.FILES_MISSED, f"no update files in store {proof.access_instance!r}")
        return SubmitReply(SubmitResult.ACCEPTED)

    # -- inspection (tests, operators) -------------------------------------------------------------------------

    def sector_record(self, sector: SectorId) -> dict[str, Any] | None:
        row = self.db.sector(sector.number)
        return None if row is None else dict(row)

    def submissions(self) -> list[dict[str, Any]]:
        return self.db.submissions()


def _snapup_submission(proof: SnapupProof) -> str:
    """What identifies a snapup submission: a retry sends exactly this again."""
    return dumps(
        {
            "comm_r": proof.comm_r.hex(),
            "comm_d": proof.comm_d.hex(),
            "pieces": proof.piece_cids,
            "proof": proof.proof.hex(),
        }
    )

"""Steps that talk to the chain through the manager: submit, poll until landed, wait for the seed.

Each reacts to the reference's result codes exactly as the reference does (reference-damocles.md 1.4, 1.5).
A submission repeated after a crash or a lost reply is answered DuplicateSubmit and treated as accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sealer_fsm import simulated
from sealer_fsm.manager import (
    OnChainState,
    PollReply,
    PreCommitInfo,
    Randomness,
    SnapupProof,
    SubmitReply,
    SubmitResult,
)
from sealer_fsm.runtime import AbortTask, Outcome, Permanent, StepContext, StepResult, Temporary
from sealer_fsm.steps._common import call, manager, sector_id
from sealer_fsm.steps._tasks import read_c1_output


def _check_submitted(what: str, reply: SubmitReply) -> None:
    """Pre-commit and proof: Accepted/Duplicate pass; Rejected aborts; Mismatched and FilesMissed pause."""
    detail = f"{what} {reply.result.name}" + (f": {reply.desc}" if reply.desc else "")
    if reply.result is SubmitResult.REJECTED:
        raise AbortTask(detail)
    if reply.result not in (SubmitResult.ACCEPTED, SubmitResult.DUPLICATE_SUBMIT):
        raise Permanent(detail)


async def _poll_until_settled(ctx: StepContext, what: str, poll: Callable[[], Awaitable[PollReply]]) -> bool:
    """Poll every rpc_polling_interval until the message landed (True) or failed and must be resubmitted (False)."""
    while True:
        reply = await call(what, poll())
        detail = f"{what}: {reply.state.name}" + (f" ({reply.desc})" if reply.desc else "")
        if reply.state is OnChainState.LANDED:
            return True
        if reply.state is OnChainState.FAILED:
            ctx.log.warning("%s: %s; resubmitting", ctx.sector, detail)
            await ctx.sleep(ctx.sealing.rpc_polling_interval)
            return False
        if reply.state is OnChainState.SHOULD_ABORT:
            raise AbortTask(detail)
        if reply.state in (OnChainState.NOT_FOUND, OnChainState.PERM_FAILED):
            raise Permanent(detail)
        await ctx.sleep(ctx.sealing.rpc_polling_interval)


async def submit_precommit(ctx: StepContext) -> StepResult:
    """PC2Done → PCSubmitted; after a ReSubmitPC the manager is told to replace the failed pre-commit."""
    info = PreCommitInfo(
        comm_r=bytes.fromhex(ctx.require("comm_r")),
        comm_d=bytes.fromhex(ctx.require("comm_d")),
        ticket=Randomness.from_json(ctx.require("ticket")),
    )
    reset = bool(ctx.data.get("precommit_resubmit"))
    request = manager(ctx).submit_precommit(sector_id(ctx), info, reset, proof_type=ctx.require("proof_type"))
    reply = await call("SubmitPreCommit", request)
    _check_submitted(f"pre-commit of {ctx.sector}", reply)
    return Outcome("SubmitPC", {"precommit_resubmit": False})


async def poll_precommit(ctx: StepContext) -> StepResult:
    """PCSubmitted → PCLanded (CheckPC), or back to PC2Done (ReSubmitPC) when it failed on chain."""
    sector = sector_id(ctx)
    if await _poll_until_settled(ctx, "PollPreCommitState", lambda: manager(ctx).poll_precommit(sector)):
        # Recorded so that the states after it need it: a resume cannot jump past the chain's landing.
        return Outcome("CheckPC", {"precommit_landed": True})
    return Outcome("ReSubmitPC", {"precommit_resubmit": True})


async def submit_persisted(ctx: StepContext) -> StepResult:
    """Persisted → PersistanceSubmitted (rebuild: → Finished): the manager checks the persisted files; `false` is
    Permanent. They are the update files of a rebuilt upgraded sector (`is_upgrade`), else the sealed ones."""
    instance = ctx.require("persist_instance")
    is_upgrade = "upgrade" in ctx.data
    found = await call("SubmitPersistedEx", manager(ctx).submit_persisted(sector_id(ctx), instance, is_upgrade))
    if not found:
        raise Permanent(f"the manager did not find the persisted files of {ctx.sector} in store {instance!r}")
    return Outcome("SubmitPersistance", {"persist_submitted": instance})


async def wait_seed(ctx: StepContext) -> StepResult:
    """PersistanceSubmitted → SeedAssigned, waiting as long as the manager says the seed epoch is ahead."""
    sector = sector_id(ctx)
    while True:
        answer = await call("WaitSeed", manager(ctx).wait_seed(sector, proof_type=ctx.require("proof_type")))
        if answer.seed is not None:
            return Outcome("AssignSeed", {"seed": answer.seed.to_json()})
        if not answer.should_wait:
            raise Temporary(f"no seed for {ctx.sector} yet and no reason to wait given (has the pre-commit landed?)")
        await ctx.sleep(answer.delay)


def _proof(ctx: StepContext) -> bytes:
    """The proof in task data: `simulated:<hex>` for a simulated one, plain hex for one an external prover made."""
    text = ctx.require("proof")
    try:
        return simulated.from_text(text) if text.startswith(simulated.TEXT_PREFIX) else bytes.fromhex(text)
    except (AttributeError, ValueError) as error:
        raise Permanent(f"the proof in task data is neither simulated nor hex: {str(text)[:24]!r}...") from error


async def submit_proof(ctx: StepContext) -> StepResult:
    """C2Done → ProofSubmitted: a simulated proof, or an external prover's. A simulated proof of a real C1 is
    sent with the C1 output it commits to (`simulated.porep_submission`), whose vanilla proofs the devnet
    verifies. Rejected (an invalid proof) aborts the sector, as the reference worker does."""
    proof = _proof(ctx)
    if simulated.c1_digest_of_proof(proof) is not None:
        c1_json = await ctx.run_blocking(read_c1_output, ctx.require("c1_out"), "SubmitProof")
        proof = simulated.porep_submission(proof, c1_json)
    reset = bool(ctx.data.get("proof_resubmit"))
    reply = await call("SubmitProof", manager(ctx).submit_proof(sector_id(ctx), proof, reset))
    _check_submitted(f"proof of {ctx.sector}", reply)
    if reply.desc:
        ctx.log.info("%s: proof %s: %s", ctx.sector, reply.result.name, reply.desc)
    return Outcome("SubmitProof", {"proof_resubmit": False})


async def poll_proof(ctx: StepContext) -> StepResult:
    """ProofSubmitted → Finished (Finish), or back to C2Done (ReSubmitProof); skipped with ignore_proof_check."""
    if ctx.sealing.ignore_proof_check:
        return Outcome("Finish", {"proof_settled": "submitted, not checked on chain (ignore_proof_check)"})
    sector = sector_id(ctx)
    if await _poll_until_settled(ctx, "PollProofState", lambda: manager(ctx).poll_proof(sector)):
        return Outcome("Finish", {"proof_settled": "landed"})
    return Outcome("ReSubmitProof", {"proof_resubmit": True})


async def submit_snapup_proof(ctx: StepContext) -> StepResult:
    """snapup Persisted → Finished; FilesMissed → RePersist; Mismatched or Rejected abort the upgrade."""
    proof = SnapupProof(
        comm_r=bytes.fromhex(ctx.require("comm_r")),
        comm_d=bytes.fromhex(ctx.require("comm_d")),
        access_instance=ctx.require("persist_instance"),
        piece_cids=[deal["piece_cid"] for deal in ctx.require("deals")],
        proof=_proof(ctx),
    )
    reply = await call("SubmitSnapUpProof", manager(ctx).submit_snapup_proof(sector_id(ctx), proof))
    detail = f"snapup proof of {ctx.sector} {reply.result.name}" + (f": {reply.desc}" if reply.desc else "")
    if reply.result in (SubmitResult.ACCEPTED, SubmitResult.DUPLICATE_SUBMIT):
        return Outcome("Finish", {"upgrade_submitted": True})
    if reply.result is SubmitResult.FILES_MISSED:
        ctx.log.warning("%s; persisting again", detail)
        return "RePersist"
    raise AbortTask(detail)

"""How the submission and polling steps react to each of the reference's result codes (reference 1.4, 1.5)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from _devnet_helpers import FakeContext
from hypothesis import given
from hypothesis import strategies as st

from sealer_fsm import simulated
from sealer_fsm.manager import ManagerError, OnChainState, PollReply, SubmitReply, SubmitResult
from sealer_fsm.runtime import AbortTask, Outcome, Permanent, Temporary
from sealer_fsm.steps import builtin_registry, submission

DATA = {
    "sector_id": "s-t01000-1",
    "miner": 1000,
    "number": 1,
    "sector_size": 2048,
    "proof_type": 5,
    "comm_r": "11" * 32,
    "comm_d": "22" * 32,
    "ticket": {"value": "33" * 32, "epoch": 1},
    "proof": simulated.to_text(b"x" * 192),
    "persist_instance": "a",
    "deals": [{"deal_id": 1, "piece_cid": "cid", "piece_size": 128, "payload_size": 100}],
}


class ScriptedManager:
    """Answers submissions with one code and polls with a script of states, recording the resets it was sent."""

    def __init__(self, submit: SubmitResult = SubmitResult.ACCEPTED, polls: list[OnChainState] | None = None) -> None:
        self.submit = submit
        self.polls = list(polls or [])
        self.resets: list[bool] = []

    async def _submit(self, *args: Any) -> SubmitReply:
        return SubmitReply(self.submit, "scripted")

    async def submit_precommit(self, sector: Any, info: Any, reset: bool, *, proof_type: int) -> SubmitReply:
        self.resets.append(reset)
        return await self._submit()

    async def submit_proof(self, sector: Any, proof: bytes, reset: bool) -> SubmitReply:
        self.resets.append(reset)
        return await self._submit()

    async def submit_snapup_proof(self, sector: Any, proof: Any) -> SubmitReply:
        return await self._submit()

    async def _poll(self, sector: Any) -> PollReply:
        return PollReply(self.polls.pop(0))

    poll_precommit = poll_proof = _poll


def context(manager: Any, polling: float = 0.0, **data: Any) -> FakeContext:
    """These steps touch no files, so the thread location does not exist."""
    return FakeContext({**DATA, **data}, {"manager": manager}, Path("/nonexistent"), rpc_polling_interval=polling)


def outcome_event(result: Any) -> str:
    return result.event if isinstance(result, Outcome) else result


SEALER_SUBMITS = [(submission.submit_precommit, "SubmitPC"), (submission.submit_proof, "SubmitProof")]


@pytest.mark.parametrize(("step", "event"), SEALER_SUBMITS)
@given(result=st.sampled_from(SubmitResult))
def test_precommit_and_proof_submissions(step: Any, event: str, result: SubmitResult) -> None:
    ctx = context(ScriptedManager(result))
    if result in (SubmitResult.ACCEPTED, SubmitResult.DUPLICATE_SUBMIT):
        assert outcome_event(asyncio.run(step(ctx))) == event
    elif result is SubmitResult.REJECTED:
        with pytest.raises(AbortTask):
            asyncio.run(step(ctx))
    else:  # MismatchedSubmission, FilesMissed
        with pytest.raises(Permanent, match=result.name):
            asyncio.run(step(ctx))


@given(result=st.sampled_from(SubmitResult))
def test_snapup_submission(result: SubmitResult) -> None:
    ctx = context(ScriptedManager(result))
    expected = {SubmitResult.ACCEPTED: "Finish", SubmitResult.DUPLICATE_SUBMIT: "Finish"}
    expected[SubmitResult.FILES_MISSED] = "RePersist"
    if result in expected:
        assert outcome_event(asyncio.run(submission.submit_snapup_proof(ctx))) == expected[result]
    else:  # Mismatched or Rejected abort the upgrade
        with pytest.raises(AbortTask):
            asyncio.run(submission.submit_snapup_proof(ctx))


POLLS = [(submission.poll_precommit, "CheckPC", "ReSubmitPC"), (submission.poll_proof, "Finish", "ReSubmitProof")]
WAITING = st.lists(st.sampled_from([OnChainState.PENDING, OnChainState.PACKED]), max_size=5)


@pytest.mark.parametrize(("step", "landed", "resubmit"), POLLS)
@given(waiting=WAITING, final=st.sampled_from([s for s in OnChainState if s not in (1, 2)]))
def test_polling(step: Any, landed: str, resubmit: str, waiting: list, final: OnChainState) -> None:
    """Pending/Packed keep polling (one interval each); then the final state decides."""
    ctx = context(ScriptedManager(polls=[*waiting, final]), polling=0.5)
    if final is OnChainState.LANDED:
        assert outcome_event(asyncio.run(step(ctx))) == landed
        assert ctx.slept == [0.5] * len(waiting)
    elif final is OnChainState.FAILED:
        result = asyncio.run(step(ctx))
        assert outcome_event(result) == resubmit
        assert any(value is True for value in result.data.values()), "the resubmission asks for a reset"
    elif final is OnChainState.SHOULD_ABORT:
        with pytest.raises(AbortTask):
            asyncio.run(step(ctx))
    else:  # NotFound, PermFailed
        with pytest.raises(Permanent, match=final.name):
            asyncio.run(step(ctx))


def test_a_resubmission_after_failed_sends_reset() -> None:
    manager = ScriptedManager()
    asyncio.run(submission.submit_precommit(context(manager)))
    asyncio.run(submission.submit_precommit(context(manager, precommit_resubmit=True)))
    assert manager.resets == [False, True]


class FailingManager:
    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **options: Any) -> None:
            raise ManagerError("connection refused")

        return fail


@pytest.mark.parametrize(
    "name", ["submit_precommit", "poll_precommit", "submit_persisted", "wait_seed", "submit_proof", "poll_proof"]
)
def test_manager_errors_are_temporary(name: str) -> None:
    step = builtin_registry().resolve(name)
    with pytest.raises(Temporary, match="connection refused"):
        asyncio.run(step(context(FailingManager())))

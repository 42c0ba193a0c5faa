"""Where an operator may resume a paused task: the rules derive from the plan, and no jump loses a sector."""

from __future__ import annotations

import asyncio

import pytest
from _devnet_helpers import ChainClock, devnet_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.assembly import build_worker as build_machine_worker
from sealer_fsm.config import load_machine_file
from sealer_fsm.plans import load_plan
from sealer_fsm.runtime import NotPaused, ResumeCheck, StateRefused, WorkerListener, state_needs
from sealer_fsm.runtime._resume import check_resume
from sealer_fsm.store import TaskRecord
from tests.conftest import PLANS
from tests.harness import build_worker, producing, registry_for, run_until, until

SEALER = load_plan(PLANS / "sealer.yaml", None)
SNAPUP = load_plan(PLANS / "snapup.yaml", None)


def paused_in(tmp_path, machine_file, plan: str, state: str, **registry):
    worker = build_worker(machine_file([plan]), tmp_path / "h", registry_for(producing(**{state: True}), **registry))
    asyncio.run(run_until(worker, lambda: worker.thread(0).paused))
    assert worker.thread(0).state == state
    return worker


def snapshot(worker):
    info = worker.thread(0)
    return info.state, info.paused, info.last_error, worker.store.task(info.task_id).data, worker.history(0)


def test_resume_into_finished_without_the_proof_is_refused(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "sealer", "PCSubmitted")
    before = snapshot(worker)
    with pytest.raises(StateRefused) as refused:
        worker.resume(0, "Finished")
    message = str(refused.value)
    assert "'Finished'" in message and "proof" in message and "seed" in message and "force" in message
    assert "\n" not in message
    assert "Abort" in message  # what a forced jump risks
    assert refused.value.valid_states[-1] == "Abort"
    with pytest.raises(StateRefused):
        worker.check_resume(0, "Finished")
    assert snapshot(worker) == before


def test_a_forced_jump_says_what_the_target_needs_and_what_is_missing(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "sealer", "PCSubmitted")
    before = snapshot(worker)
    check = worker.check_resume(0, "Finished", force=True)
    assert isinstance(check, ResumeCheck)
    assert check.target == "Finished"
    assert set(check.missing) == {
        "precommit_landed", "persist_instance", "persist_submitted", "seed", "c1_out", "proof", "proof_settled"
    }  # fmt: skip
    assert set(check.needs) >= {"sector_id", "comm_r", "proof"}
    assert "proof" in check.warning and "Abort" in check.warning
    assert snapshot(worker) == before  # checking changes nothing
    plain = worker.check_resume(0, "PC2Done")
    assert (plain.target, plain.missing, plain.warning) == ("PC2Done", (), None)


def test_the_aborted_alias_and_unknown_states(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "snapup", "SnapEncoded")
    assert worker.check_resume(0, "Aborted").target == "Abort"
    with pytest.raises(StateRefused) as refused:
        worker.check_resume(0, "PC1Done")
    assert "not in plan 'snapup'" in str(refused.value)
    with pytest.raises(StateRefused, match="proof"):
        worker.check_resume(0, "Finished")


def test_a_task_holding_a_sector_cannot_go_back_before_its_allocation(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "sealer", "PCSubmitted")
    before = snapshot(worker)
    for force in (False, True):
        with pytest.raises(StateRefused) as refused:
            worker.resume(0, "Empty", force=force)
        message = str(refused.value)
        assert "s-t01000-1" in message and "Abort" in message and "\n" not in message
    assert snapshot(worker) == before


def test_a_snapup_task_cannot_go_back_to_empty_either(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "snapup", "PieceAdded")
    with pytest.raises(StateRefused, match="Abort"):
        worker.check_resume(0, "Empty", force=True)


def test_a_task_without_a_sector_may_be_resumed_into_its_initial_state(tmp_path, machine_file):
    worker = paused_in(tmp_path, machine_file, "sealer", "Empty")
    assert worker.check_resume(0, "Empty").target == "Empty"


def test_the_check_refuses_a_thread_that_is_not_paused(tmp_path, machine_file):
    worker = build_worker(machine_file(["sealer"]), tmp_path / "h", registry_for(producing()))
    with pytest.raises(NotPaused):
        worker.check_resume(0, "Empty")


def test_a_forced_jump_into_finished_still_runs_what_the_operator_forced(tmp_path, machine_file):
    reported = []

    async def report(ctx):
        reported.append(ctx.sector)

    paused_in(tmp_path, machine_file, "sealer", "PCSubmitted").close()
    worker = build_worker(
        machine_file(["sealer"]), tmp_path / "h", registry_for(producing(PCSubmitted=True), report_finalized=report)
    )

    async def scenario():
        runner = asyncio.create_task(worker.run())
        await until(lambda: worker.thread(0).paused)
        worker.resume(0, "Finished", force=True, reason="proven on chain by hand")
        await until(lambda: reported)
        worker.drain()
        await runner

    asyncio.run(scenario())
    forced = [entry for entry in worker.store.history(1) if entry.event == "SetState"]
    assert [(entry.to_state, entry.reason) for entry in forced] == [("Finished", "proven on chain by hand")]
    assert reported == ["s-t01000-1"]


# -- the rule itself, derived from the plan ------------------------------------------------------------------


def test_a_final_state_needs_everything_the_plan_requires_on_the_way():
    for plan in (SEALER, SNAPUP):
        everything = {key for spec in plan.states.values() for key in spec.requires}
        assert set(state_needs(plan, "Finished")) == everything
    needs = {"sector_id", "deals", "pieces", "comm_d", "ticket", "pc1_out", "comm_r"}
    assert set(state_needs(SEALER, "PC2Done")) == needs
    assert state_needs(SEALER, "Empty") == ()
    assert state_needs(SEALER, "Abort") == ()


def test_only_states_every_path_passes_through_count(tmp_path):
    plan = tmp_path / "branch.yaml"
    plan.write_text(
        "plan: branch\ninitial: Start\nstates:\n"
        "  Start: {step: s, on: {Left: L, Right: R}}\n"
        "  L: {step: s, requires: [left, common], on: {Join: End}}\n"
        "  R: {step: s, requires: [right, common], on: {Join: End}}\n"
        "  End: {step: s, requires: [done], final: true}\n"
    )
    loaded = load_plan(plan, None)
    # neither branch is on every path, but what both branches require is guaranteed at the join
    assert set(state_needs(loaded, "End")) == {"done", "common"}
    assert set(state_needs(loaded, "L")) == {"left", "common"}


def test_the_control_rpc_checks_a_resume_without_doing_it(tmp_path, machine_file):
    from sealer_fsm.control._methods import WorkerMethods
    from sealer_fsm.rpc import RpcError

    worker = paused_in(tmp_path, machine_file, "sealer", "PCSubmitted")
    methods = WorkerMethods(worker)
    before = snapshot(worker)
    answer = methods.check_resume(0, "Finished", True)
    assert answer["target"] == "Finished" and "proof" in answer["missing"] and "Abort" in answer["warning"]
    with pytest.raises(RpcError) as refused:
        methods.check_resume(0, "Empty", True)
    assert "Abort" in str(refused.value) and refused.value.data["kind"] == "state_refused"
    assert snapshot(worker) == before


KEYS = sorted({key for plan in (SEALER, SNAPUP) for spec in plan.states.values() for key in spec.requires})


@settings(max_examples=300, deadline=None)
@given(
    plan=st.sampled_from([SEALER, SNAPUP]),
    current=st.integers(0, 30),
    held=st.sets(st.sampled_from(KEYS)),
    typed=st.one_of(st.sampled_from(["Aborted", "Abort", "Finished", "Empty", "PC1Done", "Nowhere"]), st.text()),
    force=st.booleans(),
)
def test_every_resume_is_accepted_only_by_the_rules(plan, current, held, typed, force):
    states = plan.state_names()
    task = TaskRecord(
        1, 0, plan.name, "p.yaml", states[current % len(states)], None, 0, True, None, None,
        {key: 1 for key in held}, 0.0, 0.0, None,
    )  # fmt: skip
    try:
        check = check_resume(plan, task, typed, force)
    except StateRefused as refused:
        assert "\n" not in str(refused) and refused.valid_states == states
        return
    assert check.target == plan.canonical_state(typed)
    if check.target == "Abort":
        return
    assert task.state != "Abort"
    needs = state_needs(plan, check.target)
    assert set(check.missing) == set(needs) - held and (force or not check.missing)
    assert "sector_id" not in held or "sector_id" in needs  # never back before the allocation


# -- against the real steps: what a task really holds in each state -------------------------------------------


class _DataByState(WorkerListener):
    """The task data (its keys) each task held when it entered each state, as the built-in steps left it."""

    def __init__(self, worker) -> None:
        self.worker = worker
        self.held: dict[tuple[str, str], set[str]] = {}

    def state_changed(self, thread, source, event, destination) -> None:
        task = self.worker.store.task(thread.task.id)
        self.held.setdefault((task.plan, destination), set(task.data))

    def task_closed(self, thread, task) -> None:
        if any(plan == "snapup" and state == "Finished" for plan, state in self.held):
            self.worker.drain()


def test_no_state_a_real_sector_passes_through_may_jump_to_finished_unforced(tmp_path):
    """A review found C2Done → Finished accepted without --force: the proof was never submitted, yet the devnet
    recorded the sector finalized. Every chain-facing step now leaves its mark in the task data, which the later
    states require; checked on the data the built-in steps really leave in each state of both plans."""
    machine = devnet_machine(tmp_path, ["sealer", "sealer", "snapup"], {"seed": 3}, "enable_deals = true")
    clock = ChainClock(0.01)
    worker = build_machine_worker(load_machine_file(machine, tmp_path / "home"), clock=clock, manager_calls=clock)
    recorder = _DataByState(worker)
    worker.add_listener(recorder)
    try:
        asyncio.run(asyncio.wait_for(worker.run(), 120))
    finally:
        worker.close()
    plans = {"sealer": SEALER, "snapup": SNAPUP}
    seen = {plan: {state for p, state in recorder.held if p == plan} for plan in plans}
    for name, plan in plans.items():
        assert set(plan.states) - {"Abort"} <= seen[name] | {plan.initial}, f"{name}: not every state was reached"
    for (name, state), keys in recorder.held.items():
        plan = plans[name]
        if plan.states[state].final or state == "Abort":
            continue
        task = TaskRecord(
            1, 0, name, "p.yaml", state, None, 0, True, None, "s-t01000-1", dict.fromkeys(keys, 1), 0.0, 0.0, None
        )
        with pytest.raises(StateRefused):
            check_resume(plan, task, "Finished", False)
        # and the state's own needs are what the real steps give it: resuming a task in place is never refused
        assert check_resume(plan, task, state, False).missing == (), (name, state)

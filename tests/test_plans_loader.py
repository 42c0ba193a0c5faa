"""The plan loader: every broken plan gets its own clear fault on the right line; valid text never crashes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.plans import PlanError, check_plan_text, load_plan
from sealer_fsm.registry import StepRegistry
from tests.conftest import DATA, PLANS


def _noop(ctx):
    return None


REGISTRY = StepRegistry({"allocate_sector": _noop, "add_pieces": _noop})

# file → (line, words the fault must contain)
BROKEN = {
    "yaml_syntax.yaml": (7, "YAML syntax error"),
    "unknown_top_key.yaml": (3, "unknown key 'retries'"),
    "unknown_state_key.yaml": (6, "unknown key 'timeout' in state 'Empty'"),
    "unknown_target.yaml": (7, "goes to unknown state 'Alocated'"),
    "unreachable_state.yaml": (7, "state 'Orphan' is unreachable from 'Empty'"),
    "no_event.yaml": (7, "state 'Stuck' is not final and has no event"),
    "final_with_events.yaml": (9, "final state 'Done' cannot have events"),
    "duplicate_event.yaml": (8, "duplicate key 'Allocate'"),
    "duplicate_state.yaml": (9, "duplicate key 'Empty' in states (first defined on line 4)"),
    "unknown_step.yaml": (5, "unknown step 'alocate_sector'"),
    "unimportable_step.yaml": (5, "cannot import module 'no_such_module_here'"),
    "reserved_state.yaml": (7, "state 'Aborted' is reserved"),
    "reserved_event.yaml": (8, "event 'Abort' in state 'Empty' is reserved"),
    "retry_out_of_range.yaml": (6, "retry max of state 'Empty' must be a whole number from 0 to 1000"),
    "retry_bad_interval.yaml": (8, "retry interval of state 'Empty'"),
    "initial_unknown.yaml": (2, "initial state 'Start' is not a state of this plan"),
    "dead_end_loop.yaml": (7, "state 'Ping' has no path to a final state"),
}


def test_every_broken_plan_file_is_covered():
    assert sorted(BROKEN) == sorted(path.name for path in (DATA / "broken_plans").glob("*.yaml"))
    assert len(BROKEN) >= 10


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_plan_gets_a_clear_fault_on_the_right_line(name):
    path = DATA / "broken_plans" / name
    line, words = BROKEN[name]
    with pytest.raises(PlanError) as raised:
        load_plan(path, REGISTRY)
    faults = raised.value.faults
    matching = [fault for fault in faults if words in fault.message]
    assert matching, f"no fault mentions {words!r}: {[str(fault) for fault in faults]}"
    assert matching[0].line == line, str(matching[0])
    assert str(matching[0]).startswith(f"{path}:{line}: ")


def test_all_faults_of_a_file_are_reported_together():
    text = "plan: many\ninitial: A\nbogus: 1\nstates:\n  A: {step: nope, on: {Go: Z}}\n  B: {final: 3}\n"
    plan, faults = check_plan_text(text, "many.yaml", REGISTRY)
    assert plan is None
    messages = " | ".join(fault.message for fault in faults)
    for words in ("unknown key 'bogus'", "unknown step 'nope'", "unknown state 'Z'", "final of state 'B'"):
        assert words in messages


@pytest.mark.parametrize("name", ["sealer", "snapup"])
def test_shipped_plans_round_trip_to_json(name):
    plan = load_plan(PLANS / f"{name}.yaml", None)
    document = plan.to_json()
    assert document["plan"] == name
    assert [state["name"] for state in document["states"]] == plan.state_names()
    assert document["states"][-1] == {
        "name": "Abort",
        "doc": plan.abort_state.doc,
        "stage": "-",
        "step": "abort_sector",
        "final": True,
        "on": {},
    }


def test_retry_override_is_parsed():
    text = "plan: p\ninitial: A\nstates:\n  A: {step: add_pieces, retry: {max: 7, interval: 2min}, on: {Go: B}}\n"
    text += "  B: {final: true}\n"
    plan, faults = check_plan_text(text, "p.yaml", REGISTRY)
    assert faults == []
    assert plan.states["A"].retry.max_retries == 7
    assert plan.states["A"].retry.interval == 120.0


_yaml_fragments = st.sampled_from(
    [
        "plan: x",
        "initial: A",
        "states:",
        "  A:",
        "    step: add_pieces",
        "    on: {Go: B}",
        "  B:",
        "    final: true",
        "    final: 3",
        "  - A",
        ": :",
        "{",
        "]",
        "    retry: {max: 2000}",
        "    on: [1, 2]",
        "  C: ~",
        "\t",
        "'",
        "&a *a",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_yaml_fragments, max_size=12))
def test_loader_never_crashes_and_always_explains(lines):
    plan, faults = check_plan_text("\n".join(lines), "fuzz.yaml", REGISTRY)
    assert (plan is None) == bool(faults)
    for fault in faults:
        assert fault.source == "fuzz.yaml" and fault.line >= 1 and fault.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_loader_survives_arbitrary_text(text):
    plan, faults = check_plan_text(text, "any.yaml", REGISTRY)
    assert plan is not None or faults

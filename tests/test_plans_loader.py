"""The plan loader: every broken plan gets its own clear fault on the right line; valid text never crashes it."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm.plans import PlanError, RetryPolicy, check_plan_text, load_plan, resolve_plan_path
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


# -- what an edit can do to a plan (issue 10 item 11; issue 11 items 14-16) -----------------------------------


def _sealer_text() -> str:
    return (PLANS / "sealer.yaml").read_text()


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 5000 + "]" * 5000,
        "{a: " * 3000 + "1" + "}" * 3000,
        "\n" + "\n".join(" " * (6 + 2 * depth) + "-" for depth in range(400)),
    ],
    ids=["flow lists", "flow mappings", "block lists"],
)
def test_deep_nesting_is_one_fault_not_a_recursion_error(tmp_path, nested):
    text = _sealer_text().replace("doc: Empty state, that is, the sector has not been allocated yet", "doc: " + nested)
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as raised:
        load_plan(path, REGISTRY)
    (fault,) = raised.value.faults
    assert "nested more than 32 levels deep" in fault.message
    assert 9 <= fault.line <= 9 + 32  # where the nesting in the `doc:` of line 9 passes the limit


def test_a_loader_failure_of_any_kind_is_a_plan_error(monkeypatch):
    """Whatever goes wrong inside the checker reaches the caller as a fault, so a worker keeps its last plan."""
    import sealer_fsm.plans._loader as loader

    def explode(self, text):
        raise MemoryError("simulated: out of memory while composing")

    monkeypatch.setattr(loader._Checker, "check", explode)
    plan, faults = check_plan_text(_sealer_text(), "sealer.yaml", REGISTRY)
    assert plan is None
    assert [str(fault) for fault in faults] == [
        "sealer.yaml: cannot be checked: MemoryError: simulated: out of memory while composing"
    ]


def test_one_misspelt_target_is_one_fault_with_its_consequences_folded():
    text = _sealer_text().replace("on: {Allocate: Allocated}", "on: {Allocate: Alocated}")
    plan, faults = check_plan_text(text, "sealer.yaml", None)
    assert plan is None
    assert len(faults) == 2, [str(fault) for fault in faults]
    assert "goes to unknown state 'Alocated'" in faults[0].message
    assert faults[1].message.startswith("because of the faults above, 17 states are unreachable or cannot finish: ")
    assert "Empty, Allocated, DealsAcquired" in faults[1].message


def test_consequences_alone_are_each_reported():
    text = "plan: p\ninitial: A\nstates:\n  A: {step: add_pieces, on: {Go: B}}\n  B: {final: true}\n"
    text += "  Orphan: {step: add_pieces, on: {Go: B}}\n"
    _, faults = check_plan_text(text, "p.yaml", REGISTRY)
    assert [str(fault) for fault in faults] == ["p.yaml:6: state 'Orphan' is unreachable from 'A'"]


def test_a_file_level_fault_names_the_absolute_path_and_no_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError) as raised:
        load_plan("nonexist.yaml", None)
    assert str(raised.value) == f"{tmp_path / 'nonexist.yaml'}: plan file not found"
    (tmp_path / "plans").mkdir()
    with pytest.raises(PlanError) as raised:
        load_plan("plans", None)
    assert str(raised.value) == f"{tmp_path / 'plans'}: is a directory, not a plan file"
    with pytest.raises(PlanError) as raised:
        resolve_plan_path("plans/")
    assert str(raised.value) == f"{tmp_path / 'plans'}: is a directory, not a plan file"


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(_sealer_text() + "#" * (2 << 20))
    with pytest.raises(PlanError) as raised:
        load_plan(path, None)
    assert str(raised.value) == f"{path}: larger than 1 MiB: not a plan file"


@pytest.mark.parametrize("name", ["sealer", "snapup"])
def test_a_plan_saved_by_pyyaml_still_loads(tmp_path, name):
    """PyYAML (YAML 1.1) reads the key `on` as true and writes it back as `true:`; the loader reads it as `on`."""
    original = load_plan(PLANS / f"{name}.yaml", None)
    saved = tmp_path / f"{name}.yaml"
    saved.write_text(yaml.safe_dump(yaml.safe_load((PLANS / f"{name}.yaml").read_text())))
    assert "  true:" in saved.read_text()
    assert load_plan(saved, None) == original


def test_a_quoted_true_key_is_still_an_unknown_key():
    text = "plan: p\ninitial: A\nstates:\n  A: {step: add_pieces, 'true': {Go: B}}\n  B: {final: true}\n"
    _, faults = check_plan_text(text, "p.yaml", REGISTRY)
    assert any("unknown key 'true' in state 'A'" in fault.message for fault in faults)


@pytest.mark.parametrize("name", ["sealer", "snapup"])
def test_the_plan_document_loads_back_unchanged(name):
    original = load_plan(PLANS / f"{name}.yaml", None)
    text = yaml.safe_dump(original.to_document(), sort_keys=False)
    again, faults = check_plan_text(text, "again.yaml", None)
    assert faults == []
    assert again == original and list(again.states) == list(original.states)


@settings(max_examples=100, deadline=None)
@given(
    max_retries=st.none() | st.integers(0, 1000),
    interval=st.none() | st.floats(0, 86400, allow_nan=False),
    doc=st.text(max_size=40),
)
def test_retry_and_doc_survive_the_document_round_trip(max_retries, interval, doc):
    plan, faults = check_plan_text(
        "plan: p\ninitial: A\nstates:\n  A: {step: add_pieces, on: {Go: B}}\n  B: {final: true}\n", "p", REGISTRY
    )
    assert plan is not None
    state = dataclasses.replace(plan.states["A"], doc=doc, retry=RetryPolicy(max_retries, interval))
    edited = dataclasses.replace(plan, states={**plan.states, "A": state}, doc=doc)
    again, faults = check_plan_text(yaml.safe_dump(edited.to_document(), sort_keys=False), "p", REGISTRY)
    assert faults == [] and again == edited


def test_a_path_the_file_system_refuses_to_look_up_is_a_plan_error(tmp_path):
    too_long = "p" * 5000 + ".yaml"
    with pytest.raises(PlanError) as raised:
        resolve_plan_path(too_long, tmp_path)
    assert "cannot be looked up: File name too long" in str(raised.value)
    with pytest.raises(PlanError) as raised:
        resolve_plan_path("p" * 5000)
    assert str(raised.value).endswith(": File name too long")

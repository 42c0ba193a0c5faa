"""Plan diagrams: the DOT source (states, events, styles, highlight, history), rendering, and stale diagrams."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from sealer_fsm.cli import main
from sealer_fsm.diagrams import Highlight, edge_counts, plan_file_hash, plan_from_json, plan_graph
from sealer_fsm.plans import load_plan, resolve_plan_path, shipped_plan_names
from sealer_fsm.store import Change, HistoryEntry, TaskStore
from tests.support.running_worker import worker_process
from tests.test_control_rpc import SETTLED_OPTIONS, settled

REPO = Path(__file__).resolve().parents[1]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


def shipped(name: str):
    return load_plan(resolve_plan_path(name), registry=None)


def node_line(dot: str, state: str) -> str:
    return next(line for line in dot.splitlines() if line.startswith(f"\t{state} ["))


def edge_line(dot: str, source: str, event: str, destination: str) -> str:
    pattern = re.compile(rf"^\t{source} -> {destination} \[label=\"?\s*{event}\b")
    return next(line for line in dot.splitlines() if pattern.match(line))


def cli_dot(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["plan", "diagram", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", shipped_plan_names())
def test_every_state_and_event_of_a_shipped_plan_is_drawn(name: str) -> None:
    plan = shipped(name)
    dot = plan_graph(plan).source
    for state in plan.state_names():
        assert node_line(dot, state)
    for source, event, destination in plan.transitions():
        assert edge_line(dot, source, event, destination)
    assert f"\t__start -> {plan.initial}\n" in dot
    assert "rankdir=TB" in dot


def test_the_dot_source_is_deterministic() -> None:
    assert plan_graph(shipped("sealer")).source == plan_graph(shipped("sealer")).source


def test_stages_finals_abort_and_resubmit_loops_are_styled_apart() -> None:
    dot = plan_graph(shipped("sealer")).source
    assert 'label="PC1Done\\n[PC2]"' in node_line(dot, "PC1Done")
    assert "palegreen" in node_line(dot, "Finished") and "peripheries=2" in node_line(dot, "Finished")
    assert "firebrick" in node_line(dot, "Abort") and "from any state" in node_line(dot, "Abort")
    assert "darkorange" in edge_line(dot, "PCSubmitted", "ReSubmitPC", "PC2Done")
    assert "darkorange" in edge_line(dot, "ProofSubmitted", "ReSubmitProof", "C2Done")
    assert "darkorange" not in edge_line(dot, "PCSubmitted", "CheckPC", "PCLanded")
    assert "darkorange" in edge_line(plan_graph(shipped("snapup")).source, "Persisted", "RePersist", "SnapProved")


def test_highlight_marks_a_state_and_accepts_the_aborted_alias(capsys) -> None:
    dot = cli_dot(capsys, "sealer", "--highlight", "PC2Done")
    assert "fillcolor=gold" in node_line(dot, "PC2Done")
    assert "gold" not in node_line(dot, "PC1Done")
    assert "fillcolor=gold" in node_line(cli_dot(capsys, "snapup", "--highlight", "Aborted"), "Abort")


def test_an_unknown_highlight_state_is_one_line_listing_the_valid_ones(capsys) -> None:
    assert main(["plan", "diagram", "snapup", "--highlight", "PC1Done", "--format", "dot"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "state 'PC1Done' is not in plan 'snapup'; valid states: Empty, Allocated, PieceAdded" in err


def test_the_last_event_is_marked_even_when_it_is_an_operator_jump() -> None:
    plan = shipped("sealer")
    dot = plan_graph(plan, highlight=Highlight("TicketAssigned", "TreeDBuilt", "AssignTicket")).source
    assert "goldenrod3" in edge_line(dot, "TreeDBuilt", "AssignTicket", "TicketAssigned")
    assert "lightyellow" in node_line(dot, "TreeDBuilt") and "gold" in node_line(dot, "TicketAssigned")
    jumped = plan_graph(plan, highlight=Highlight("TreeDBuilt", "TicketAssigned", "SetState")).source
    assert "goldenrod3" in edge_line(jumped, "TicketAssigned", "SetState", "TreeDBuilt")


def test_thread_asks_the_worker_where_its_task_is(tmp_path: Path, capsys) -> None:
    with worker_process(tmp_path / "worker", *SETTLED_OPTIONS) as worker:
        worker.wait_for(settled)
        dot = cli_dot(capsys, "--thread", "3", "--host", worker.address, "--format", "dot")
        assert "fillcolor=gold" in node_line(dot, "SeedAssigned")
        assert "lightyellow" in node_line(dot, "PersistanceSubmitted")
        assert "goldenrod3" in edge_line(dot, "PersistanceSubmitted", "AssignSeed", "SeedAssigned")
        assert 'label="plan sealer: thread 3, sector s-t01000-' in dot and ', in SeedAssigned"' in dot
        snapup = cli_dot(capsys, "snapup", "--thread", "1", "--host", worker.address)
        assert "fillcolor=gold" in node_line(snapup, "TreeDBuilt") and "SnapEncoded" in snapup
        assert main(["plan", "diagram", "snapup", "--thread", "0", "--host", worker.address]) == 1
        assert "thread 0 runs plan 'sealer', not 'snapup'" in capsys.readouterr().err


def walk(store: TaskStore, thread: int, *steps: tuple[str, str, str]) -> None:
    task = store.create_task(thread, "sealer", "plans/sealer.yaml", steps[0][0], 0.0).wait()
    for source, event, destination in steps:
        task = store.record(task, Change(source, event, destination, 1.0)).wait()


def test_history_labels_and_thickens_each_edge_by_how_often_it_was_taken(tmp_path: Path, capsys) -> None:
    store = TaskStore.in_home(tmp_path)
    resubmit = [("PC2Done", "SubmitPC", "PCSubmitted"), ("PCSubmitted", "ReSubmitPC", "PC2Done")]
    walk(store, 0, ("Empty", "Allocate", "Allocated"), ("Allocated", "AcquireDeals", "DealsAcquired"))
    walk(store, 1, ("Empty", "Allocate", "Allocated"), ("Allocated", "SetState", "PC2Done"), *resubmit, *resubmit)
    store.record(store.open_task(1), Change("PC2Done", None, "PC2Done", 2.0, failure="temporary: busy")).wait()
    store.close()
    dot = cli_dot(capsys, "sealer", "--history", "--home", str(tmp_path))
    assert 'label="   Allocate (2)   "' in edge_line(dot, "Empty", "Allocate", "Allocated")
    assert "penwidth=" in edge_line(dot, "Empty", "Allocate", "Allocated")
    assert 'label="   ReSubmitPC (2)   "' in edge_line(dot, "PCSubmitted", "ReSubmitPC", "PC2Done")
    assert 'label="  PC1 (0)  "' in edge_line(dot, "TicketAssigned", "PC1", "PC1Done")
    assert "dashed" in edge_line(dot, "Allocated", "SetState", "PC2Done")  # taken, though not a plan event


def test_history_needs_a_store(capsys) -> None:
    assert main(["plan", "diagram", "sealer", "--history"]) == 1
    assert "give --home DIR or -c MACHINE_FILE" in capsys.readouterr().err


def test_edge_counts_skip_failures_recorded_in_place() -> None:
    entries = [HistoryEntry(1, 1, 0.0, "A", "Go", "B"), HistoryEntry(2, 1, 1.0, "B", None, "B", failure="permanent: x")]
    assert edge_counts(entries) == {("A", "Go", "B"): 1}


def test_a_plan_from_the_worker_draws_like_the_file() -> None:
    plan = shipped("snapup")
    assert (
        plan_graph(plan_from_json(plan.to_json())).source == plan_graph(dataclasses.replace(plan, source=None)).source
    )


def test_an_invalid_plan_gets_every_fault_and_no_diagram(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("plan: broken\ninitial: A\nstates:\n  A:\n    on: {Go: B}\n  C: {final: true}\n")
    assert main(["plan", "diagram", str(broken), "-o", str(tmp_path / "broken.svg")]) == 1
    err = capsys.readouterr().err
    assert "unknown state 'B'" in err and "2 states are unreachable or cannot finish: A, C" in err
    assert not (tmp_path / "broken.svg").exists() and not (tmp_path / "broken.dot").exists()


def test_without_dot_the_source_is_written_next_to_the_requested_file(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["plan", "diagram", "sealer", "-o", str(tmp_path / "sealer.svg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install graphviz" in err
    assert not (tmp_path / "sealer.svg").exists()
    assert (tmp_path / "sealer.dot").read_text() == plan_graph(shipped("sealer")).source
    assert main(["plan", "diagram", "snapup", "-o", str(tmp_path / "snapup.dot")]) == 0  # never needs dot
    assert (tmp_path / "snapup.dot").read_text().startswith("digraph snapup {")


@needs_dot
def test_a_rendered_svg_has_every_state_and_the_plan_hash(tmp_path: Path, capsys) -> None:
    assert main(["plan", "diagram", "sealer", "-o", str(tmp_path / "sealer.svg"), "--highlight", "C1Done"]) == 0
    svg = (tmp_path / "sealer.svg").read_text()
    for state in shipped("sealer").state_names():
        assert f"<title>{state}</title>" in svg
    assert "<title>PCSubmitted&#45;&gt;PC2Done</title>" in svg
    assert f"sha256 {plan_file_hash(resolve_plan_path('sealer'))}" in svg


@needs_dot
def test_all_draws_every_shipped_plan(tmp_path: Path, capsys) -> None:
    assert main(["plan", "diagram", "--all", "-o", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{name}.svg" for name in shipped_plan_names()]


@pytest.mark.parametrize("name", shipped_plan_names())
def test_the_committed_diagram_matches_its_plan_file(name: str) -> None:
    svg = REPO / "docs" / "plans" / f"{name}.svg"
    assert svg.is_file(), f"{svg} is missing: run `make diagrams`"
    expected = f"plan {name} sha256 {plan_file_hash(resolve_plan_path(name))}"
    assert expected in svg.read_text(), f"plans/{name}.yaml changed since {svg} was drawn: run `make diagrams`"


def svg_size(svg: str) -> tuple[float, float]:
    match = re.search(r'<svg width="([0-9.]+)pt" height="([0-9.]+)pt"', svg)
    assert match is not None
    return float(match.group(1)), float(match.group(2))


@pytest.mark.parametrize("name", shipped_plan_names())
def test_the_committed_diagrams_fit_on_one_screen(name: str) -> None:
    """Rows of states read like text: wider than tall, and no larger than a screen (1920x1080 px)."""
    width, height = svg_size((REPO / "docs" / "plans" / f"{name}.svg").read_text())
    assert width >= height
    assert width * 4 / 3 <= 1920 and height * 4 / 3 <= 1080, (width, height)


def test_rows_of_states_or_one_chain_with_rankdir(capsys) -> None:
    rows = cli_dot(capsys, "sealer")
    ranks = re.findall(r"\{\n\t\trank=same\n((?:\t\t\w+\n)+)\t\}", rows)
    assert [line.split() for line in ranks] == [
        ["Empty", "Allocated", "DealsAcquired", "PieceAdded", "TreeDBuilt"],
        ["TicketAssigned", "PC1Done", "PC2Done", "PCSubmitted", "PCLanded"],
        ["Persisted", "PersistanceSubmitted", "SeedAssigned", "C1Done", "C2Done"],
        ["ProofSubmitted", "Finished", "Abort"],
    ]
    for rankdir in ("LR", "TB"):
        chain = cli_dot(capsys, "sealer", "--rankdir", rankdir)
        assert f"rankdir={rankdir}" in chain and "rank=same" not in chain


def text_boxes(svg: str, *texts: str) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) of each text, from its anchor point, at 11pt Helvetica (about 0.6em a letter)."""
    boxes = []
    for text in texts:
        blank = r"(?:\s|&#160;)*"  # graphviz writes the labels' padding as no-break spaces
        pattern = rf'<text text-anchor="middle" x="([-0-9.]+)" y="([-0-9.]+)"[^>]*>{blank}{text}{blank}</text>'
        match = re.search(pattern, svg)
        assert match is not None, text
        x, y = float(match.group(1)), float(match.group(2))
        half = len(text) * 11 * 0.6 / 2
        boxes.append((x - half, y - 11, x + half, y))
    return boxes


def overlap(first: tuple[float, ...], second: tuple[float, ...]) -> bool:
    """Whether two text boxes come closer than half a letter side by side (they would read as one word), or
    closer than two points one above the other."""
    side, above = 5.5, 2.0
    return (
        first[0] < second[2] + side
        and second[0] < first[2] + side
        and first[1] < second[3] + above
        and second[1] < first[3] + above
    )


@needs_dot
@pytest.mark.parametrize("rankdir", [None, "TB", "LR"])
def test_labels_of_an_event_and_its_loop_back_do_not_run_together(tmp_path: Path, capsys, rankdir) -> None:
    output = tmp_path / "sealer.svg"
    assert main(["plan", "diagram", "sealer", "-o", str(output), *(["--rankdir", rankdir] if rankdir else [])]) == 0
    svg = output.read_text()
    for forward, back in (("SubmitPC", "ReSubmitPC"), ("SubmitProof", "ReSubmitProof")):
        assert not overlap(*text_boxes(svg, forward, back)), (forward, back)


def test_a_count_label_stands_off_its_edge_by_the_edge_width() -> None:
    plan = shipped("sealer")
    dot = plan_graph(plan, edge_counts={("Empty", "Allocate", "Allocated"): 1000}).source
    line = edge_line(dot, "Empty", "Allocate", "Allocated")
    width = float(re.search(r"penwidth=\"?([0-9.]+)", line).group(1))
    padding = re.search(r'label="( *)Allocate', line).group(1)
    assert width >= 5 and len(padding) >= width / 2

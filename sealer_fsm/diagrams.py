"""Plan diagrams: a plan (and optionally where a task is in it, or how often each edge was taken) as graphviz.

A layer over the plan model, like `transitions`' diagrams extension: the plan never knows it is drawn. The DOT
source is deterministic (states in file order, events in plan order, extra edges sorted) so it can be compared
in tests and committed. Rendering needs Debian's `dot`; without it, `render` raises DotMissing and the caller
can still write the DOT source.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz

from sealer_fsm.plans import ABORT_STATE, Plan, StateSpec
from sealer_fsm.store import HistoryEntry

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = "install graphviz (apt-get install graphviz) to render"
Edge = tuple[str, str, str]  # (source state, event, destination state)

_FONT = "Helvetica"
_STATE_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "fontname": _FONT}
_FINAL_STYLE = {"peripheries": "2", "fillcolor": "palegreen"}
_ABORT_STYLE = {"peripheries": "2", "fillcolor": "mistyrose", "color": "firebrick", "fontcolor": "firebrick"}
_LOOP_EDGE_STYLE = {"color": "darkorange", "fontcolor": "darkorange3", "style": "bold"}
_EXTRA_EDGE_STYLE = {"color": "gray40", "fontcolor": "gray30", "style": "dashed"}  # taken, but not a plan event
_CURRENT_STYLE = {"fillcolor": "gold", "penwidth": "3"}
_PREVIOUS_STYLE = {"fillcolor": "lightyellow", "penwidth": "2", "style": "rounded,filled,dashed"}
_LAST_EVENT_STYLE = {"color": "goldenrod3", "fontcolor": "goldenrod4", "penwidth": "3"}


class DotMissing(Exception):
    """Graphviz's `dot` program is not installed, so only the DOT source can be produced."""


@dataclass(frozen=True)
class Highlight:
    """Where a task is: its current state, the state it came from, and the event that brought it."""

    state: str | None = None
    previous: str | None = None
    event: str | None = None


def plan_file_hash(path: Path) -> str:
    """A hash of the plan file, written into the diagram so a stale committed diagram can be detected."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_graph(
    plan: Plan,
    *,
    highlight: Highlight | None = None,
    edge_counts: Mapping[Edge, int] | None = None,
    rankdir: str | None = None,
    title: str | None = None,
) -> graphviz.Digraph:
    """The plan as a graph: states with their stage, events as labelled edges, loops back in orange.

    Without `rankdir` the states are laid out in rows read like text (file order, left to right, top to bottom),
    which keeps a long plan on one screen; `rankdir` "TB" or "LR" draws one chain top to bottom or left to right.
    """
    highlight = highlight or Highlight()
    counts = edge_counts or {}
    graph = graphviz.Digraph(plan.name)
    label = title or f"plan {plan.name}"
    graph.attr(rankdir=rankdir or "TB", label=label, labelloc="t", fontname=_FONT, fontsize="18")
    if plan.source is not None:
        graph.attr(comment=f"plan {plan.name} sha256 {plan_file_hash(plan.source)}")
    graph.attr("node", **_STATE_STYLE)
    graph.attr("edge", fontname=_FONT, fontsize="11")
    graph.node("__start", label="", shape="circle", style="filled", fillcolor="black", width="0.2")
    graph.edge("__start", plan.initial)
    for name in plan.state_names():
        graph.node(name, label=_state_label(plan.state(name)), **_state_style(plan, name, highlight))
    if rankdir is None:
        _rows(graph, plan.state_names())
    order = {name: position for position, name in enumerate(plan.state_names())}
    declared = plan.transitions()
    extra = sorted(set(counts) - set(declared) | _extra_highlighted_edge(declared, highlight))
    for edge in [*declared, *extra]:
        source, event, destination = edge
        style = _count_style(event, counts.get(edge, 0), edge_counts is not None)
        if edge in extra:
            style.update(_EXTRA_EDGE_STYLE)
        elif order[destination] <= order[source]:  # a loop back, e.g. ReSubmitPC
            style.update(_LOOP_EDGE_STYLE)
        if (source, destination) == (highlight.previous, highlight.state) and event == highlight.event:
            style.update(_LAST_EVENT_STYLE)
        graph.edge(source, destination, **_padded(style))
    return graph


def row_length(states: int) -> int:
    """States per row: as many rows as columns, which (states being wider than tall) fits a screen."""
    return max(3, math.ceil(math.sqrt(states)))


def _rows(graph: graphviz.Digraph, states: list[str]) -> None:
    """Each row one rank, rows kept left-aligned by invisible heavy edges between their first states."""
    per_row = row_length(len(states))
    rows = [states[start : start + per_row] for start in range(0, len(states), per_row)]
    graph.attr(newrank="true", nodesep="0.5", ranksep="0.7")
    for row in rows:
        with graph.subgraph() as rank:
            rank.attr(rank="same")
            for name in row:
                rank.node(name)
    for upper, lower in itertools.pairwise(rows):
        graph.edge(upper[0], lower[0], style="invis", weight="100")


def _padded(style: dict[str, str]) -> dict[str, str]:
    """Labels stand off their edge by a space for every two points of its width, so neither a thick edge nor the
    label of the edge coming back between the same two states runs into them."""
    width = float(style.get("penwidth", "1"))
    spaces = " " * (1 + math.ceil(width / 2))
    return {**style, "label": f"{spaces}{style['label']}{spaces}"}


def _state_label(spec: StateSpec) -> str:
    """Name, then stage; `\\n` is DOT's own line break, which keeps each node on one line of the source."""
    if spec.name == ABORT_STATE:
        return f"{ABORT_STATE}\\n(from any state)"
    return spec.name if spec.stage == "-" else f"{spec.name}\\n[{spec.stage}]"


def _state_style(plan: Plan, name: str, highlight: Highlight) -> dict[str, str]:
    style: dict[str, str] = {}
    if name == ABORT_STATE:
        style.update(_ABORT_STYLE)
    elif plan.is_final(name):
        style.update(_FINAL_STYLE)
    if name == highlight.previous:
        style.update(_PREVIOUS_STYLE)
    if name == highlight.state:
        style.update(_CURRENT_STYLE)
    return style


def _extra_highlighted_edge(declared: list[Edge], highlight: Highlight) -> set[Edge]:
    """The last event, when it is not one of the plan's (an operator's SetState, an Abort)."""
    if highlight.state is None or highlight.previous is None or highlight.event is None:
        return set()
    edge = (highlight.previous, highlight.event, highlight.state)
    return set() if edge in declared else {edge}


def _count_style(event: str, count: int, counting: bool) -> dict[str, str]:
    if not counting:
        return {"label": event}
    if count == 0:
        return {"label": f"{event} (0)", "color": "gray70", "fontcolor": "gray50"}
    return {"label": f"{event} ({count})", "penwidth": f"{1 + min(5.0, math.log2(count + 1)):.1f}"}


def edge_counts(entries: Iterable[HistoryEntry]) -> Counter[Edge]:
    """How many times each (from, event, to) was taken; failures recorded in place (no event) are not edges."""
    return Counter((entry.from_state, entry.event, entry.to_state) for entry in entries if entry.event is not None)


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    """A Plan rebuilt from its `to_json()` form, as the control RPC returns it; enough to draw it."""
    states: dict[str, StateSpec] = {}
    on_abort = None
    for state in data["states"]:
        if state["name"] == ABORT_STATE:
            on_abort = state.get("step")
            continue
        states[state["name"]] = StateSpec(
            name=state["name"],
            doc=state.get("doc", ""),
            stage=state.get("stage", "-"),
            step=state.get("step"),
            final=bool(state.get("final")),
            on=dict(state.get("on", {})),
        )
    return Plan(name=data["plan"], initial=data["initial"], states=states, on_abort=on_abort)


def render(graph: graphviz.Digraph, path: Path, output_format: str) -> Path:
    """Write the graph to `path` in `output_format` ("dot" writes the source and never needs `dot`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if output_format == "dot":
        path.write_text(graph.source, encoding="utf-8")
        return path
    try:
        path.write_bytes(graph.pipe(format=output_format))
    except graphviz.ExecutableNotFound as error:
        raise DotMissing(str(error)) from error
    return path

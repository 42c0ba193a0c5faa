"""`sealer-fsm plan diagram`: draw a plan with graphviz, optionally with a task's position or edge counts.

Registered by cli/plan.py into the `plan` group. Plans are loaded for their flow only (no step registry), so a
plan whose steps live elsewhere can still be drawn; an invalid plan gets every loader fault and no diagram.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import graphviz

from sealer_fsm.cli._common import CliError, Subparsers
from sealer_fsm.cli._remote import add_host_argument, connect, remote_call
from sealer_fsm.config import ConfigError, load_machine_file
from sealer_fsm.diagrams import (
    FORMATS,
    INSTALL_HINT,
    DotMissing,
    Edge,
    Highlight,
    edge_counts,
    plan_from_json,
    plan_graph,
    render,
)
from sealer_fsm.plans import Plan, PlanError, load_plan, resolve_plan_path, shipped_plan_names
from sealer_fsm.store import StoreError, TaskStore


def register(plan_commands: Subparsers) -> None:
    diagram = plan_commands.add_parser(
        "diagram",
        help="draw a plan with graphviz",
        description="Draw a plan (states with their stage, events as edges, resubmit loops in orange).",
    )
    diagram.add_argument("plan", nargs="?", metavar="NAME|PATH", help="a shipped plan name or a plan file")
    diagram.add_argument("-o", "--output", help="output file (with --all: a directory); DOT goes to stdout without it")
    diagram.add_argument("--format", choices=FORMATS, help="output format (default: the output's suffix, or svg)")
    diagram.add_argument("--all", action="store_true", help="draw every shipped plan into the -o directory")
    diagram.add_argument(
        "--rankdir",
        choices=("TB", "LR"),
        help="one chain of states, top to bottom or left to right (default: rows of states, read like text)",
    )
    diagram.add_argument("--highlight", metavar="STATE", help="mark a state (Aborted is accepted for Abort)")
    diagram.add_argument("--thread", type=int, metavar="N", help="mark where thread N's task is, asking the worker")
    add_host_argument(diagram)
    diagram.add_argument("--history", action="store_true", help="label each edge with how often tasks took it")
    diagram.add_argument("-c", "--config", metavar="FILE", help="machine file whose home holds the task store")
    diagram.add_argument("--home", metavar="DIR", help="the worker's home directory (holds the task store)")
    diagram.set_defaults(handler=_diagram)


def _diagram(args: argparse.Namespace) -> int:
    if args.all:
        return _draw_all(args)
    if args.plan is None and args.thread is None:
        raise CliError("name a plan (e.g. sealer), or use --thread N or --all")
    highlight = title = None
    if args.thread is not None:
        plan, highlight, title = _thread_position(args)
    else:
        plan = _load(args.plan)
    if args.highlight is not None:
        highlight = Highlight(state=_known_state(plan, args.highlight))
    counts = _history_counts(args, plan) if args.history else None
    graph = plan_graph(plan, highlight=highlight, edge_counts=counts, rankdir=args.rankdir, title=title)
    output_format = args.format or (Path(args.output).suffix.lstrip(".") if args.output else "dot")
    if output_format not in FORMATS:
        raise CliError(f"unknown format {output_format!r} (use one of {', '.join(FORMATS)})")
    if args.output is None:
        if output_format != "dot":
            raise CliError(f"give an output file (-o) for {output_format}; without one the DOT source is printed")
        sys.stdout.write(graph.source)
        return 0
    _write(graph, Path(args.output), output_format)
    return 0


def _draw_all(args: argparse.Namespace) -> int:
    if args.output is None or args.plan is not None:
        raise CliError("--all draws every shipped plan into a directory: give -o DIR and no plan name")
    output_format = args.format or "svg"
    for name in shipped_plan_names():
        graph = plan_graph(_load(name), rankdir=args.rankdir)
        _write(graph, Path(args.output) / f"{name}.{output_format}", output_format)
    return 0


def _write(graph: graphviz.Digraph, path: Path, output_format: str) -> None:
    try:
        render(graph, path, output_format)
    except DotMissing as error:
        dot_path = render(graph, path.with_suffix(".dot"), "dot")
        message = f"graphviz's dot program is not installed: wrote the DOT source to {dot_path} instead"
        raise CliError(f"{message}; {INSTALL_HINT} {output_format}") from error
    print(f"wrote {path}")


def _load(name_or_path: str) -> Plan:
    try:
        return load_plan(resolve_plan_path(name_or_path), registry=None)
    except PlanError as error:
        raise CliError(str(error)) from error


def _known_state(plan: Plan, typed: str) -> str:
    state = plan.canonical_state(typed)
    if state is None:
        raise CliError(f"state {typed!r} is not in plan {plan.name!r}; valid states: {', '.join(plan.state_names())}")
    return state


def _thread_position(args: argparse.Namespace) -> tuple[Plan, Highlight, str]:
    """The plan of the thread's task, from the running worker, where the task is in it, and a title saying so."""
    with connect(args) as client:
        position = remote_call(client, "SealerFsm.PlanOf", args.thread)
    plan = plan_from_json(position["plan"])
    if args.plan is not None and args.plan != plan.name:
        raise CliError(f"thread {args.thread} runs plan {plan.name!r}, not {args.plan!r}")
    title = thread_title(plan.name, args.thread, position["sector"], position["state"])
    return plan, Highlight(position["state"], position["prev_state"], position["last_event"]), title


def thread_title(plan: str, thread: int, sector: str | None, state: str | None) -> str:
    """`plan sealer: thread 3, sector s-t01000-7, in PC1Done` (or that the thread has no task)."""
    if state is None:
        return f"plan {plan}: thread {thread}, no task"
    return f"plan {plan}: thread {thread}, sector {sector or '(not allocated yet)'}, in {state}"


def _history_counts(args: argparse.Namespace, plan: Plan) -> Counter[Edge]:
    """Edge counts over every task of this plan in the worker's store (read-only: safe while it runs)."""
    if args.home is None and args.config is None:
        raise CliError("--history reads the task store: give --home DIR or -c MACHINE_FILE")
    try:
        home = Path(args.home) if args.home else load_machine_file(args.config).home
        store = TaskStore.in_home(home, readonly=True)
    except (ConfigError, StoreError) as error:
        raise CliError(str(error)) from error
    try:
        tasks = [task for task in store.tasks() if task.plan == plan.name]
        return edge_counts(entry for task in tasks for entry in store.history(task.id))
    finally:
        store.close()

"""`sealer-fsm plan check|show|steps` (and `diagram`, in _plan_diagram.py): validate plan files, print a plan's
flow, list the steps a plan can name."""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

import yaml
from rich.table import Table

from sealer_fsm.cli import _plan_diagram
from sealer_fsm.cli._common import CliError, Subparsers, add_json_argument, print_json, table_console
from sealer_fsm.plans import Plan, PlanError, PlanFault, load_plan, resolve_plan_path
from sealer_fsm.registry import StepRegistry
from sealer_fsm.steps import builtin_registry


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("plan", help="check, show and draw plans; list the steps they can use")
    plan_commands = parser.add_subparsers(dest="plan_command", required=True, metavar="SUBCOMMAND")

    check = plan_commands.add_parser("check", help="validate plan files; every fault is printed")
    check.add_argument("paths", nargs="+", metavar="PATH", help="plan files (or shipped plan names)")
    add_json_argument(check)
    check.set_defaults(handler=_check)

    show = plan_commands.add_parser("show", help="print a plan's states, stages, steps and events")
    show.add_argument("plan", metavar="NAME|PATH", help="a shipped plan name (sealer, snapup) or a plan file")
    output = show.add_mutually_exclusive_group()
    add_json_argument(output)
    output.add_argument("--yaml", action="store_true", help="the plan as a plan file (loads back unchanged)")
    show.set_defaults(handler=_show)

    steps = plan_commands.add_parser("steps", help="the built-in steps a plan can name, and which are simulated")
    add_json_argument(steps)
    steps.set_defaults(handler=_steps)

    _plan_diagram.register(plan_commands)


def load_for_cli(name_or_path: str) -> Plan:
    """Resolve and load a plan, turning every loader fault into the CLI's error output."""
    try:
        return load_plan(resolve_plan_path(name_or_path), builtin_registry())
    except PlanError as error:
        raise CliError(str(error)) from error


def _fault_json(fault: PlanFault) -> dict[str, Any]:
    return {"file": fault.source, "line": fault.line or None, "message": fault.message}


def _check(args: argparse.Namespace) -> int:
    registry = builtin_registry()
    results: list[dict[str, Any]] = []
    for name in args.paths:
        try:
            plan = load_plan(resolve_plan_path(name), registry)
        except PlanError as error:
            results.append({"path": name, "ok": False, "faults": [_fault_json(fault) for fault in error.faults]})
            if not args.json:
                print("\n".join(str(fault) for fault in error.faults))
            continue
        summary = {"plan": plan.name, "states": len(plan.states), "events": len(plan.transitions())}
        results.append({"path": name, "file": str(plan.source), "ok": True, **summary, "faults": []})
        if not args.json:
            print(f"{plan.source}: ok (plan {plan.name!r}, {summary['states']} states, {summary['events']} events)")
    if args.json:
        print_json(results)
    return 0 if all(result["ok"] for result in results) else 1


def _show(args: argparse.Namespace) -> int:
    plan = load_for_cli(args.plan)
    if args.json:
        print_json(plan.to_json())
        return 0
    if args.yaml:
        sys.stdout.write(yaml.safe_dump(plan.to_document(), sort_keys=False, allow_unicode=True, width=120))
        return 0
    table = Table(title=f"plan {plan.name} (initial: {plan.initial})", title_justify="left")
    for column in ("state", "stage", "step", "events", "doc"):
        table.add_column(column)
    for name in plan.state_names():
        spec = plan.state(name)
        events = ", ".join(f"{event} → {target}" for event, target in spec.on.items())
        if spec.final:
            events = "(final)"
        table.add_row(name, spec.stage, spec.step or "", events, spec.doc)
    table_console().print(table)
    return 0


def step_rows(registry: StepRegistry) -> list[dict[str, Any]]:
    """Each built-in step with the first line of its docstring and whether its work is simulated."""
    rows = []
    for name in registry.names():
        doc = inspect.getdoc(registry.resolve(name)) or ""
        rows.append({"step": name, "simulated": registry.is_simulated(name), "doc": doc.splitlines()[0] if doc else ""})
    return rows


def _steps(args: argparse.Namespace) -> int:
    rows = step_rows(builtin_registry())
    if args.json:
        print_json(rows)
        return 0
    table = Table(title="built-in steps (a plan may also name module:function)", title_justify="left")
    for column in ("step", "simulated", "what it does"):
        table.add_column(column, no_wrap=column != "what it does")
    for row in rows:
        table.add_row(row["step"], "simulated" if row["simulated"] else "", row["doc"])
    table_console().print(table)
    return 0

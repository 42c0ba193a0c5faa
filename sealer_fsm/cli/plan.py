"""`sealer-fsm plan check|show`: validate plan files and print a plan's flow."""

from __future__ import annotations

import argparse

from rich.table import Table

from sealer_fsm.cli import _plan_diagram
from sealer_fsm.cli._common import CliError, print_json, table_console
from sealer_fsm.plans import Plan, PlanError, load_plan, resolve_plan_path
from sealer_fsm.steps import builtin_registry


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("plan", help="check, show and draw plans")
    plan_commands = parser.add_subparsers(dest="plan_command", required=True, metavar="SUBCOMMAND")

    check = plan_commands.add_parser("check", help="validate plan files; every fault is printed")
    check.add_argument("paths", nargs="+", metavar="PATH", help="plan files (or shipped plan names)")
    check.set_defaults(handler=_check)

    show = plan_commands.add_parser("show", help="print a plan's states, stages, steps and events")
    show.add_argument("plan", metavar="NAME|PATH", help="a shipped plan name (sealer, snapup) or a plan file")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_show)

    _plan_diagram.register(plan_commands)


def load_for_cli(name_or_path: str) -> Plan:
    """Resolve and load a plan, turning every loader fault into the CLI's error output."""
    try:
        return load_plan(resolve_plan_path(name_or_path), builtin_registry())
    except PlanError as error:
        raise CliError(str(error)) from error


def _check(args: argparse.Namespace) -> int:
    registry = builtin_registry()
    failed = 0
    for name in args.paths:
        try:
            plan = load_plan(resolve_plan_path(name), registry)
        except PlanError as error:
            failed += 1
            for fault in error.faults:
                print(fault)
            continue
        print(f"{plan.source}: ok (plan {plan.name!r}, {len(plan.states)} states, {len(plan.transitions())} events)")
    return 1 if failed else 0


def _show(args: argparse.Namespace) -> int:
    plan = load_for_cli(args.plan)
    if args.json:
        print_json(plan.to_json())
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

"""`sealer-fsm processor <stage>`: this worker's own external processor (a child the worker starts itself).

It speaks the reference's protocol on stdin and stdout (see docs/processors.md) and runs the stage's built-in
implementation; an operator never runs it by hand, but may name it (or any program speaking the same protocol)
in `[[processors.<stage>]]`.
"""

from __future__ import annotations

import argparse

from sealer_fsm.processors import run_consumer
from sealer_fsm.steps.stages import builtin_stage, builtin_stages


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "processor", help="serve one stage as an external processor (started by the worker, not by hand)"
    )
    parser.add_argument("stage", choices=builtin_stages(), help="the stage to serve")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    return run_consumer(args.stage, builtin_stage(args.stage))

"""A real worker process for tests and benches: test steps on the shipped plans, served over the control RPC.

    python tests/support/worker_process.py --home DIR [--threads N] [--plan sealer --plan snapup]
        [--port 0] [--token T] [--fail STEP[@I,J]] [--block STEP[@I,J]] [--step-seconds S]

Every step name of the shipped plans is registered, in this process's own StepRegistry, to one deterministic
test step that waits `--step-seconds` and takes the plan's forward event (never a `Re...` resubmit loop),
producing the task data the next state requires. Switches, per step name and optionally per thread index:
`--fail` makes the step fail permanently (the thread pauses), `--block` makes it wait forever without a
checkpoint (the thread stays Running; only `pause --now` or a drain ends it). Threads take plans from the
`--plan` list in turn. Once listening it prints `LISTENING <port>` on stdout; SIGTERM drains and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sealer_fsm.config import load_machine_file
from sealer_fsm.control import start_control_server
from sealer_fsm.plans import load_plan, resolve_plan_path, shipped_plan_names
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime import Outcome, Permanent, StepContext, Worker
from sealer_fsm.store import TaskStore

Switches = dict[str, set[int] | None]  # step name -> thread indices it applies to (None: every thread)


def parse_switch(text: str) -> tuple[str, set[int] | None]:
    step, _, threads = text.partition("@")
    return step, {int(index) for index in threads.split(",")} if threads else None


def switched(switches: Switches, step: str, thread: int) -> bool:
    if step not in switches:
        return False
    threads = switches[step]
    return threads is None or thread in threads


def make_test_step(step_seconds: float, fail: Switches, block: Switches) -> Callable[[StepContext], Any]:
    sector_numbers = itertools.count(1)

    async def test_step(ctx: StepContext) -> Outcome | None:
        spec = ctx.plan.state(ctx.state)
        step = spec.step or ""
        if switched(fail, step, ctx.thread_index):
            raise Permanent(f"test switch: step {step} fails on thread {ctx.thread_index}")
        if switched(block, step, ctx.thread_index):
            await asyncio.Event().wait()  # no checkpoint: a plain pause stays pending
        await ctx.sleep(step_seconds)
        if spec.final:
            return None
        event = next(event for event in spec.on if not event.startswith("Re"))
        target = ctx.plan.state(spec.on[event])
        data = {key: f"test-{key}" for key in target.requires if key not in ctx.data}
        if "sector_id" in data:
            data["sector_id"] = f"s-t01000-{next(sector_numbers)}"
        return Outcome(event, data)

    return test_step


def shipped_step_names() -> set[str]:
    names: set[str] = set()
    for plan_name in shipped_plan_names():
        plan = load_plan(resolve_plan_path(plan_name), registry=None)
        names.update(spec.step for spec in plan.states.values() if spec.step)
        if plan.on_abort:
            names.add(plan.on_abort)
    return names


def write_machine_file(home: Path, threads: int, plans: list[str], port: int) -> Path:
    lines = [
        "[worker]",
        'name = "test-worker"',
        'drain_timeout = "1s"',
        "[worker.rpc_server]",
        f"port = {port}",
        "[sealing]",
        'seal_interval = "10ms"',
        'recover_interval = "10ms"',
        "max_retries = 1",
    ]
    for index in range(threads):
        lines += ["[[sealing_thread]]", f'location = "threads/{index}"', f'plan = "{plans[index % len(plans)]}"']
    lines += ["[[attached]]", 'name = "store"', 'location = "store"']  # a worker needs one persist store
    path = home / "machine.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def serve(args: argparse.Namespace) -> None:
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    config = load_machine_file(write_machine_file(home, args.threads, args.plan or ["sealer"], args.port), home=home)
    step = make_test_step(args.step_seconds, dict(args.fail), dict(args.block))
    registry = StepRegistry({name: step for name in shipped_step_names()})
    worker = Worker(config, registry, store=TaskStore.in_home(home, synchronous="NORMAL"))
    server = await start_control_server(worker, args.host, args.port, args.token)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.drain)
    print(f"LISTENING {server.port}", flush=True)
    try:
        await worker.run()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plan", action="append", help="plan of the threads, in turn (default: sealer)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    parser.add_argument("--fail", type=parse_switch, action="append", default=[], metavar="STEP[@I,J]")
    parser.add_argument("--block", type=parse_switch, action="append", default=[], metavar="STEP[@I,J]")
    parser.add_argument("--step-seconds", type=float, default=0.01)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

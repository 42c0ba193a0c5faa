"""A real in-process worker with deterministic test steps, and the TUI on top of it, for headless Pilot tests.

Every step name of the shipped plans runs the same walker: it sleeps a moment (interruptibly, so a pause lands
at that checkpoint), then returns its state's first event with the data the next state requires. A thread listed
in `fail_at` fails permanently (the thread pauses) the first time each sector reaches that state, as a sector
whose ticket expired would.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import OptionList

from sealer_fsm.config import load_machine_file
from sealer_fsm.control import ControlClient
from sealer_fsm.plans import SHIPPED_PLANS_DIR, load_plan
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime import Outcome, Permanent, StepContext, Worker
from sealer_fsm.store import TaskStore
from sealer_fsm.tui import Controller, LocalController, RemoteController, SealerFsmApp
from sealer_fsm.tui._thread_table import ThreadTable
from sealer_fsm.tui._threads_screen import ThreadsScreen

TICKET_EXPIRED = "ticket expired"


@dataclass
class Script:
    """What the test steps do: how long each takes and where a thread's sectors fail once."""

    fail_at: dict[int, str] = field(default_factory=dict)
    step_seconds: float = 0.2
    failure: str = TICKET_EXPIRED
    _failed: set[tuple[int, str]] = field(default_factory=set)
    _sector_numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def step(self, ctx: StepContext) -> Outcome | None:
        await ctx.sleep(self.step_seconds)
        spec = ctx.plan.state(ctx.state)
        if spec.final:
            return None
        sector = ctx.data.get("sector_id")
        if self.fail_at.get(ctx.thread_index) == ctx.state and (ctx.thread_index, sector) not in self._failed:
            self._failed.add((ctx.thread_index, sector))
            raise Permanent(self.failure)
        # The first event that moves forward in the plan (PCSubmitted's first one, ReSubmitPC, loops back).
        order = list(ctx.plan.states)
        forward = [
            (event, to) for event, to in spec.on.items() if to == "Abort" or order.index(to) > order.index(spec.name)
        ]
        event, target = (forward or list(spec.on.items()))[0]
        data = {}
        for key in ctx.plan.state(target).requires:
            if key not in ctx.data:
                data[key] = f"s-t01000-{next(self._sector_numbers)}" if key == "sector_id" else f"{key}-of-{sector}"
        return Outcome(event, data)

    def registry(self) -> StepRegistry:
        registry = StepRegistry()
        for name in _shipped_step_names():
            registry.add(name, self.step)
        return registry


def _shipped_step_names() -> set[str]:
    names = set()
    for path in SHIPPED_PLANS_DIR.glob("*.yaml"):
        plan = load_plan(path, None)
        names.update(spec.step for spec in plan.states.values() if spec.step)
        if plan.on_abort:
            names.add(plan.on_abort)
    return names


def write_machine_file(directory: Path, plans: list[str]) -> Path:
    threads = "".join(f'[[sealing_thread]]\nlocation = "t{i}"\nplan = "{plan}"\n\n' for i, plan in enumerate(plans))
    path = directory / "tui-test.toml"
    path.write_text(
        '[worker]\nname = "tui-test"\n\n'
        '[sealing]\nseal_interval = "0s"\nrecover_interval = "0s"\nmax_retries = 0\n\n'
        + threads
        + '[[attached]]\nname = "store"\nlocation = "store"\n'
    )
    return path


def build_worker(directory: Path, plans: list[str], script: Script) -> Worker:
    config = load_machine_file(write_machine_file(directory, plans), home=directory / "home")
    # Test tasks need no durability across power cuts; NORMAL sync keeps 40 busy threads quick.
    return Worker(config, script.registry(), store=TaskStore.in_home(config.home, synchronous="NORMAL"))


@dataclass
class Session:
    """One running app: the worker behind it (when in-process), its pilot and its main screen."""

    app: SealerFsmApp
    pilot: Pilot
    worker: Worker | None = None

    @property
    def screen(self) -> ThreadsScreen:
        return self.app.screen_stack[0]  # the main screen stays at the bottom under any dialog

    @property
    def table(self) -> ThreadTable:
        return self.screen.query_one(ThreadTable)

    def cells(self, index: int) -> dict[str, str]:
        """Thread `index`'s row as the table holds it, by column key (only the columns shown at this width)."""
        row = self.table.get_row(str(index))
        keys = [key for key, _ in self.table.column_layout]
        return {key: cell.plain if isinstance(cell, Text) else str(cell) for key, cell in zip(keys, row, strict=True)}

    def screen_text(self) -> list[str]:
        """The terminal's lines as the operator sees them now, dialogs included."""
        return screen_lines(self.app)

    def status(self) -> str:
        return str(self.screen.query_one("#status").render())

    async def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting until {what}")
            await self.pilot.pause(0.02)

    async def select(self, index: int) -> None:
        """Put the cursor on thread `index`, as the arrow keys would."""
        await self.wait_until(lambda: index in self.table.shown_indices(), f"thread {index} is shown")
        self.table.move_cursor(row=self.table.shown_indices().index(index))
        await self.pilot.pause()

    async def select_paused(self, index: int) -> str:
        """Wait until the table shows thread `index` paused, put the cursor on it; returns its sector."""
        await self.wait_until(lambda: self.cells(index)["thread"] == "Paused", f"the table shows thread {index} paused")
        await self.select(index)
        return self.cells(index)["sector"]

    async def pick_state(self, state: str) -> None:
        """Move the resume picker's highlight to `state` with the arrow keys, as an operator would."""
        options = self.app.screen.query_one(OptionList)
        wanted = options.get_option_index(state)
        while options.highlighted != wanted:
            await self.pilot.press("up" if options.highlighted > wanted else "down")

    async def type(self, text: str) -> None:
        await self.pilot.press(*["space" if char == " " else char for char in text])


def screen_lines(app: App[None]) -> list[str]:
    """What the terminal shows, one string per line (the way `App.export_screenshot` renders it, as text)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


@asynccontextmanager
async def app_session(
    controller: Controller, worker: Worker | None = None, size: tuple[int, int] = (180, 50), refresh: float = 0.05
) -> AsyncIterator[Session]:
    """The app at `size`, refreshing every `refresh` seconds. Pilot waits after each key until the process is
    idle (at most a second, twice): a quick refresh and busy threads make every key press cost that second."""
    app = SealerFsmApp(controller, refresh_interval=refresh)
    async with app.run_test(size=size) as pilot:
        session = Session(app, pilot, worker)
        await session.wait_until(lambda: session.table.row_count > 0, "the table shows threads")
        yield session


@asynccontextmanager
async def local_session(
    directory: Path, plans: list[str], script: Script, size: tuple[int, int] = (180, 50), refresh: float = 0.05
) -> AsyncIterator[Session]:
    """The worker runs as a task in the app's own event loop, as with `sealer-fsm run --tui`."""
    worker = build_worker(directory, plans, script)
    runner = asyncio.create_task(worker.run())
    try:
        async with app_session(LocalController(worker), worker, size, refresh) as session:
            yield session
    finally:
        worker.drain()
        await asyncio.wait_for(runner, timeout=30)


def run(scenario: Callable[[], object]) -> None:
    """Run an async test scenario to completion (no pytest plugin needed)."""
    asyncio.run(scenario())  # type: ignore[arg-type]


WORKER_PROCESS = Path(__file__).resolve().parents[1] / "support" / "worker_process.py"


class WorkerProcess:
    """A real worker in its own process (tests/support/worker_process.py), serving the control RPC."""

    def __init__(self, home: Path, *options: str, port: int = 0) -> None:
        command = [sys.executable, str(WORKER_PROCESS), "--home", str(home), "--port", str(port), *options]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("LISTENING "):
            self.process.kill()
            raise AssertionError(f"the worker process did not start: {line!r}")
        self.port = int(line.split()[1])
        self.address = f"127.0.0.1:{self.port}"

    def client(self) -> ControlClient:
        return ControlClient(self.address, timeout=5)

    def stop(self) -> None:
        """SIGTERM, as an operator's service manager would: the worker drains and exits."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextmanager
def worker_process(home: Path, *options: str, port: int = 0) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(home, *options, port=port)
    try:
        yield worker
    finally:
        worker.stop()


@asynccontextmanager
async def remote_session(worker: WorkerProcess) -> AsyncIterator[Session]:
    """The app attached to a worker process over its control RPC, as `sealer-fsm tui --host` is."""
    with worker.client() as client:
        async with app_session(RemoteController(client)) as session:
            yield session

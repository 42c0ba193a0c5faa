"""What `sealer-fsm run` shows while it works: a live table on a terminal, plain log lines otherwise.

Both say which steps are simulated, so no one mistakes the devnet's proofs for Filecoin proofs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderResult
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.runtime import ThreadInfo, Worker, WorkerListener
from sealer_fsm.store import TaskRecord
from sealer_fsm.thread_columns import BY_KEY, Cells, content_widths, plan_layout
from sealer_fsm.units import format_duration

# The proof stages (config.PROOF_STAGES) as the plans' stage column names them.
_STAGE_NAMES = {
    "pc1": "PC1",
    "pc2": "PC2",
    "c1": "C1",
    "c2": "C2",
    "snap_encode": "SnapEncode",
    "snap_prove": "SnapProve",
}


def simulated_stages(worker: Worker) -> list[str]:
    """The proof stages this worker simulates: those without a real step yet, and those its machine file names."""
    return [name for stage, name in _STAGE_NAMES.items() if worker.registry.is_simulated(stage)]


def simulation_note(worker: Worker) -> str:
    real = [name for stage, name in _STAGE_NAMES.items() if not worker.registry.is_simulated(stage)]
    simulated = ", ".join(simulated_stages(worker)) or "nothing"
    return f"real: AddPieces, TreeD (CommD), {', '.join([*real, 'persistence'])}; SIMULATED: {simulated}"


log = logging.getLogger("sealer_fsm.run")


class RunProgress(WorkerListener):
    """Counts closed tasks, drains the worker once `target` sectors finished, and renders the progress."""

    def __init__(self, worker: Worker, target: int | None) -> None:
        self.worker = worker
        self.target = target
        self.finished: dict[str, int] = {}
        self.aborted = 0
        self.started = time.monotonic()
        self.widths: dict[str, int] = {}  # the live view's column widths, which only grow

    @property
    def finished_total(self) -> int:
        return sum(self.finished.values())

    def task_closed(self, thread: Any, task: TaskRecord) -> None:
        if task.state == ABORT_STATE:
            self.aborted += 1
            if task.sector is None:
                log.warning("thread %d: task %d aborted before it had a sector", thread.index, task.id)
            else:
                log.warning("sector %s aborted (thread %d)", task.sector, thread.index)
        else:
            self.finished[task.plan] = self.finished.get(task.plan, 0) + 1
            goal = f"/{self.target}" if self.target else ""
            log.info("sector %s finished by %s (%d%s)", task.sector, task.plan, self.finished_total, goal)
        if self.target is not None and self.finished_total >= self.target:
            self.worker.drain()

    def summary(self) -> str:
        plans = ", ".join(f"{count} {plan}" for plan, count in sorted(self.finished.items())) or "none"
        return (
            f"{self.finished_total} sectors finished ({plans}), {self.aborted} aborted,"
            f" in {time.monotonic() - self.started:.1f} s;"
            f" simulated: {'/'.join(simulated_stages(self.worker)) or 'none'}"
        )

    def render(self) -> ConsoleRenderable:
        return _LiveTable(self)

    @contextlib.asynccontextmanager
    async def shown(self, live_console: Console | None) -> AsyncIterator[None]:
        """Show progress while the worker runs: a live view on `live_console` (log lines then go through that
        console, above the view: see cli/_logging.py), else log lines only."""
        self.worker.add_listener(self)
        if live_console is None:
            log.info("%s", simulation_note(self.worker))
            yield
            return
        # Every frame has the same height for a given terminal (fixed widths, one line per thread), and nothing
        # else writes to the terminal: so each redraw covers the last one exactly and leaves nothing behind.
        with Live(get_renderable=self.render, console=live_console, refresh_per_second=4, transient=False):
            yield


class _LiveTable:
    """The live view at the console's current width: columns by priority (sealer_fsm.thread_columns), fixed
    widths, one line per thread; long values end in "…"."""

    def __init__(self, progress: RunProgress) -> None:
        self.progress = progress

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        progress = self.progress
        rows = [_cells(info) for info in progress.worker.threads()]
        progress.widths = content_widths(rows, progress.widths)
        layout = plan_layout(options.max_width, progress.widths)
        table = Table(
            title=f"worker {progress.worker.name}",
            caption=f"* simulated stage. {simulation_note(progress.worker)}",
            title_justify="left",
            caption_justify="left",
            box=None,
            header_style="bold underline",
            padding=(0, 1),
        )
        for key, width in layout:
            table.add_column(BY_KEY[key].header, width=width, no_wrap=True, overflow="ellipsis")
        for cells in rows:
            table.add_row(*(Text(cells[key][0], style=cells[key][1]) for key, _ in layout))
        goal = f" of {progress.target}" if progress.target else ""
        yield table
        yield Text(f"finished {progress.finished_total}{goal}, aborted {progress.aborted}")


def _cells(info: ThreadInfo) -> Cells:
    return {
        "index": (str(info.index), ""),
        "plan": (info.plan, ""),
        "sector": (info.sector or "-", ""),
        "state": (info.state or "-", ""),
        "stage": (info.stage + ("*" if info.simulated else ""), ""),
        "thread": (info.thread_state.value, ""),
        "elapsed": (format_duration(info.elapsed) if info.state else "-", ""),
        "retry": (str(info.retry), ""),
        "error": (info.last_error or "", "red"),
    }

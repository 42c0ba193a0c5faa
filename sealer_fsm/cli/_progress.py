"""What `sealer-fsm run` shows while it works: a live table on a terminal, plain log lines otherwise.

Both say which steps are simulated, so no one mistakes the devnet's proofs for Filecoin proofs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.runtime import Worker, WorkerListener
from sealer_fsm.store import TaskRecord
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

    @property
    def finished_total(self) -> int:
        return sum(self.finished.values())

    def task_closed(self, thread: Any, task: TaskRecord) -> None:
        if task.state == ABORT_STATE:
            self.aborted += 1
            log.warning("sector %s aborted (thread %d)", task.sector or "-", thread.index)
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

    def render(self) -> Group:
        caption = f"* simulated stage. {simulation_note(self.worker)}"
        table = Table(title=f"worker {self.worker.name}", caption=caption, title_justify="left")
        for column in ("#", "plan", "sector", "state", "stage", "thread", "elapsed", "retry"):
            table.add_column(column, no_wrap=True)
        table.add_column("last error", overflow="fold", min_width=12)
        for info in self.worker.threads():
            stage = info.stage + ("*" if info.simulated else "")
            table.add_row(
                str(info.index),
                info.plan,
                info.sector or "-",
                info.state or "-",
                stage,
                info.thread_state.value,
                format_duration(info.elapsed),
                str(info.retry),
                Text(info.last_error or "", style="red"),
            )
        goal = f" of {self.target}" if self.target else ""
        counts = Text(f"finished {self.finished_total}{goal}, aborted {self.aborted}")
        return Group(table, counts)

    @contextlib.asynccontextmanager
    async def shown(self, live: bool) -> AsyncIterator[None]:
        """Show progress while the worker runs: a live view when `live`, else INFO log lines on stderr."""
        self.worker.add_listener(self)
        if not live:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            log.info("%s", simulation_note(self.worker))
            yield
            return
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        with Live(get_renderable=self.render, console=Console(), refresh_per_second=4, transient=False):
            yield

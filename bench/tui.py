"""How long the TUI takes to refresh its thread table with 1,000 threads that all change every frame.

Target: under 100 ms a frame. Headless (Textual's test driver), with a fake controller, so only the UI's own
cost is measured: fetching the rows, rewriting the changed cells (every row's elapsed time, a tenth of the rows'
state), the detail pane of the selected thread, and rendering the visible part of the table.

    .venv/bin/python bench/tui.py [--threads 1000] [--frames 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from textual.geometry import Region

from sealer_fsm import __version__
from sealer_fsm.tui import HistoryRow, PlanState, PlanView, SealerFsmApp, ThreadRow, WorkerSummary
from sealer_fsm.tui._thread_table import ThreadTable
from sealer_fsm.tui._threads_screen import ThreadsScreen

STATES = ("PC1Done", "PC2Done", "PCSubmitted", "PCLanded", "Persisted", "SeedAssigned", "C1Done", "C2Done")
THREAD_STATES = ("Running", "Waiting", "Paused", "Idle")
TARGET_MS = 100.0


class ChangingController:
    """1,000 threads; each `threads()` call is a new frame where every row differs from the last one."""

    def __init__(self, threads: int) -> None:
        self.count = threads
        self.frame = 0

    async def worker_info(self) -> WorkerSummary:
        return WorkerSummary(name="bench", version=__version__)

    async def threads(self) -> list[ThreadRow]:
        self.frame += 1
        return [self._row(index) for index in range(self.count)]

    def _row(self, index: int) -> ThreadRow:
        moved = (index + self.frame) // 10  # a tenth of the threads change state each frame
        thread_state = THREAD_STATES[moved % len(THREAD_STATES)]
        return ThreadRow(
            index=index,
            plan="sealer",
            sector=f"s-t01000-{index}",
            state=STATES[moved % len(STATES)],
            stage="PC2",
            simulated=moved % 2 == 0,
            thread_state=thread_state,
            elapsed=float(self.frame + index),
            retry=moved % 3,
            last_error="permanent: ticket expired" if thread_state == "Paused" else None,
            paused=thread_state == "Paused",
        )

    async def pause(self, index: int, now: bool) -> bool:
        return True

    async def resume(self, index: int, state: str | None, force: bool, reason: str | None) -> None:
        return None

    async def history(self, index: int) -> list[HistoryRow]:
        return [HistoryRow(float(n), "A", "Go", "B", None, "step", None) for n in range(20)]

    async def plan(self, index: int) -> PlanView:
        states = tuple(PlanState(name, "-", None) for name in STATES)
        return PlanView("sealer", STATES[0], states, STATES[self.frame % len(STATES)])


async def measure(threads: int, frames: int) -> tuple[list[float], list[float]]:
    app = SealerFsmApp(ChangingController(threads), refresh_interval=3600)  # frames are driven by hand
    update_ms, total_ms = [], []
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.screen
        assert isinstance(screen, ThreadsScreen)
        table = screen.query_one(ThreadTable)
        await screen.refresh_threads()  # the first frame builds the table; later ones update it in place
        table.move_cursor(row=threads // 2)
        await pilot.pause()
        visible = Region(0, 0, table.size.width, table.size.height)
        for _ in range(frames):
            started = time.perf_counter()
            await screen.refresh_threads()
            updated = time.perf_counter()
            table.render_lines(visible)
            rendered = time.perf_counter()
            update_ms.append((updated - started) * 1000)
            total_ms.append((rendered - started) * 1000)
    return update_ms, total_ms


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    update_ms, total_ms = asyncio.run(measure(args.threads, args.frames))
    print(f"tui refresh, {args.threads} threads all changing, {args.frames} frames (headless):")
    print(f"  update table + detail   mean {statistics.mean(update_ms):6.1f} ms   p95 {p95(update_ms):6.1f} ms")
    print(f"  update + render         mean {statistics.mean(total_ms):6.1f} ms   p95 {p95(total_ms):6.1f} ms")
    verdict = "OK" if p95(total_ms) < TARGET_MS else "OVER TARGET"
    print(f"  target < {TARGET_MS:g} ms a frame: {verdict}")


if __name__ == "__main__":
    main()

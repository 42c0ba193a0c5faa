"""The live view of `sealer-fsm run`, rendered frame after frame on a recording console: however the values
change (a last error that comes, grows, shrinks and goes; a thread that gets a sector), every frame has the same
lines, the header stays where it was, and no line is wider than the terminal, so each redraw covers the last one
and nothing stale is left behind (issue 11 #13). tests/test_cli_run_terminal.py drives the real command on a
pseudo-terminal."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from sealer_fsm.cli._progress import RunProgress
from sealer_fsm.runtime import ThreadInfo, ThreadState


def thread(index: int, sector: str | None, state: str | None, error: str | None) -> ThreadInfo:
    return ThreadInfo(
        index=index,
        location=f"t{index}",
        plan="sealer",
        sector=sector,
        state=state,
        stage="PC1" if state else "-",
        simulated=False,
        thread_state=ThreadState.RUNNING if state else ThreadState.IDLE,
        thread_state_elapsed=3.0,
        elapsed=65.0,
        retry=1 if error else 0,
        last_error=error,
        paused=False,
        pause_pending=False,
        task_id=index + 1 if state else None,
    )


class ShownWorker:
    """What the live view reads of a worker: its name, its threads and which stages it simulates."""

    def __init__(self) -> None:
        self.name = "devnet"
        self.registry = SimpleNamespace(is_simulated=lambda stage: stage in ("c2", "snap_prove"))
        self.infos: list[ThreadInfo] = []

    def threads(self) -> list[ThreadInfo]:
        return self.infos


FRAMES = [
    [thread(0, None, None, None), thread(1, "s-t01000-1", "Allocated", None)],
    [thread(0, "s-t01000-2", "Empty", None), thread(1, "s-t01000-1", "PC1Done", "temporary: manager unreachable")],
    [thread(0, "s-t01000-2", "PersistanceSubmitted", "x" * 300), thread(1, "s-t01000-1", "PC1Done", "short")],
    [thread(0, "s-t01000-100", "Finished", None), thread(1, "s-t01000-1", "TicketAssigned", None)],
]


@pytest.mark.parametrize("width", [80, 200])
def test_every_frame_covers_the_last_one_exactly(width: int) -> None:
    worker = ShownWorker()
    progress = RunProgress(worker, target=4)  # type: ignore[arg-type]
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    frames = []
    for infos in FRAMES:
        worker.infos = infos
        console.print(progress.render())
        frames.append(console.export_text(clear=True).splitlines())
    assert len({len(frame) for frame in frames}) == 1, [len(frame) for frame in frames]
    headers = [next(line for line in frame if line.lstrip().startswith("#")) for frame in frames]
    assert len(set(headers)) == 1, headers
    assert all(len(line) <= width for frame in frames for line in frame)
    cut = next(line for line in frames[2] if "xxx" in line)
    assert cut.rstrip().endswith("…")
    for frame, infos in zip(frames, FRAMES, strict=True):
        for info in infos:
            (row,) = [line for line in frame if line.split()[:1] == [str(info.index)]]
            assert (info.sector or "-") in row and (info.state or "-") in row and info.thread_state.value in row

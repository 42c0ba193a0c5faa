"""The selected thread in depth: its plan drawn as a path with the current state marked, and its task's history.

Both are laid out for the pane's width. The history is a Rich table whose long cells wrap, so who acted and why
stays on screen next to a failure of any length; on a narrow terminal the move (from, event, to) shares one
column and the path shows the states around the current one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.tui._controller import HistoryRow, PlanView, ThreadRow
from sealer_fsm.tui._format import clock_time, dash, thread_state_style
from sealer_fsm.tui._thread_table import stage_text

# Below this width the history's from, event and to share one column.
WIDE_HISTORY = 120
_ABORT_NOTE = "   (any state → Abort)"


def plan_path(plan: PlanView, width: int = 10_000) -> Text:
    """`Empty → Allocated → … → Finished` with the task's state in reverse video, and Abort, reachable from all,
    last. When the whole path does not fit on two lines of `width`, only the states around the current one."""
    path = [state.name for state in plan.states if state.name != ABORT_STATE]
    shown: list[str | None] = list(path)  # None stands for states left out
    if plan.current in path and len(" → ".join(path)) + len(plan.name) + len(_ABORT_NOTE) > 2 * width - 4:
        at = path.index(plan.current)
        window = range(max(0, at - 2), min(len(path), at + 3))
        shown = [path[0]] if window.start > 0 else []
        shown += [None] if window.start > 1 else []
        shown += [path[position] for position in window]
        shown += [None] if window.stop < len(path) - 1 else []
        shown += [path[-1]] if window.stop < len(path) else []
    text = Text(f"{plan.name}: ", style="bold")
    for position, name in enumerate(shown):
        if position:
            text.append(" → ", style="dim")
        if name is None:
            text.append("…", style="dim")
        else:
            text.append(name, style="reverse bold" if name == plan.current else "")
    text.append("   (any state → ", style="dim")
    text.append(ABORT_STATE, style="reverse bold red" if plan.current == ABORT_STATE else "red")
    text.append(")", style="dim")
    return text


def thread_title(row: ThreadRow) -> Text:
    """Everything the table may have had to leave out at this width: plan, stage (and whether it is simulated)."""
    text = Text(f"thread {row.index}", style="bold")
    text.append(f"  {dash(row.sector)}  {row.plan}: {dash(row.state)} [{stage_text(row)}]  ")
    text.append(row.thread_state, style=thread_state_style(row.thread_state))
    if row.waiting_for:
        text.append(f" for {row.waiting_for}", style=thread_state_style(row.thread_state))
    if row.last_error:
        text.append(f"\nlast error: {row.last_error}", style="red")
    return text


def by_whom(entry: HistoryRow) -> str:
    return entry.actor if not entry.reason else f"{entry.actor}: {entry.reason}"


def short_time(epoch_seconds: float, now: float) -> str:
    """The time of day for today's entries, else the date too (to the minute)."""
    if time.localtime(epoch_seconds)[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M:%S", time.localtime(epoch_seconds))
    return time.strftime("%m-%d %H:%M", time.localtime(epoch_seconds))


def history_cells(entry: HistoryRow) -> tuple[str, ...]:
    """time, from, event, to, failure, by: the wide layout's cells."""
    return (
        clock_time(entry.at),
        entry.from_state,
        dash(entry.event),
        entry.to_state,
        dash(entry.failure),
        by_whom(entry),
    )


def _move(entry: HistoryRow) -> str:
    if entry.event is None:
        return f"in {entry.from_state}"
    return f"{entry.event}: {entry.from_state} → {entry.to_state}"


def history_table(history: list[HistoryRow], width: int, now: float | None = None) -> Table:
    """Newest first (the entry that explains a pause is the one the operator looks for); long cells wrap."""
    table = Table(box=None, expand=True, padding=(0, 1), header_style="bold", row_styles=["", "on grey11"])
    wide = width >= WIDE_HISTORY
    fixed = ("time", "from", "event", "to") if wide else ("time",)
    wrapping = ("failure", "by") if wide else ("move", "failure", "by")
    for name in fixed:
        table.add_column(name, no_wrap=True)
    for name in wrapping:
        table.add_column(name, overflow="fold", ratio=2 if name == "by" else 3)
    for entry in reversed(history):
        if wide:
            table.add_row(*history_cells(entry))
        else:
            moment = short_time(entry.at, time.time() if now is None else now)
            table.add_row(moment, _move(entry), dash(entry.failure), by_whom(entry))
    return table


class DetailPane(VerticalScroll):
    """Rewrites a part only when its text changed: each rewrite of an auto-height part lays the screen out again,
    which is most of what a refresh costs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[ThreadRow | None, PlanView | None, list[HistoryRow]] | None = None
        self._texts: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="plan-path")
        yield Static(id="history")

    def _update(self, part: str, key: object, render: Callable[[], RenderableType]) -> None:
        if self._texts.get(part) != key:
            self._texts[part] = key
            self.query_one(f"#{part}", Static).update(render())

    def show(self, row: ThreadRow | None, plan: PlanView | None, history: list[HistoryRow]) -> None:
        self._shown = (row, plan, history)
        width = self.scrollable_content_region.width
        if row is None or plan is None:
            self._update("detail-title", None, lambda: "no thread selected")
            self._update("plan-path", None, lambda: "")
            self._update("history", None, lambda: "")
            return
        title = thread_title(row)
        self._update("detail-title", title.markup, lambda: title)
        self._update("plan-path", (plan, width), lambda: plan_path(plan, width))
        self._update("history", (history, width), lambda: history_table(history, width))

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)

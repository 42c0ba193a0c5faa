"""The selected thread in depth: its plan drawn as a path with the current state marked, and its task's history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.tui._controller import HistoryRow, PlanView, ThreadRow
from sealer_fsm.tui._format import clock_time, dash, thread_state_style

_HISTORY_COLUMNS = ("time", "from", "event", "to", "failure", "by")


def plan_path(plan: PlanView) -> Text:
    """`Empty → Allocated → … → Finished` with the task's state in reverse video; Abort, reachable from all, last."""
    text = Text(f"{plan.name}: ", style="bold")
    path = [state.name for state in plan.states if state.name != ABORT_STATE]
    for position, name in enumerate(path):
        if position:
            text.append(" → ", style="dim")
        text.append(name, style="reverse bold" if name == plan.current else "")
    text.append("   (any state → ", style="dim")
    text.append(ABORT_STATE, style="reverse bold red" if plan.current == ABORT_STATE else "red")
    text.append(")", style="dim")
    return text


def thread_title(row: ThreadRow) -> Text:
    text = Text(f"thread {row.index}", style="bold")
    text.append(f"  {dash(row.sector)}  ")
    text.append(row.thread_state, style=thread_state_style(row.thread_state))
    if row.waiting_for:
        text.append(f" for {row.waiting_for}", style=thread_state_style(row.thread_state))
    if row.last_error:
        text.append(f"\nlast error: {row.last_error}", style="red")
    return text


def history_cells(entry: HistoryRow) -> tuple[str, ...]:
    by = entry.actor if not entry.reason else f"{entry.actor}: {entry.reason}"
    return (
        clock_time(entry.at),
        entry.from_state,
        dash(entry.event),
        entry.to_state,
        dash(entry.failure),
        by,
    )


class DetailPane(Vertical):
    """Redraws only what changed, so a long history does not flicker every second."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._history: list[HistoryRow] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="plan-path")
        yield DataTable(id="history", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        history = self.query_one("#history", DataTable)
        for name in _HISTORY_COLUMNS:
            history.add_column(name, key=name)

    def show(self, row: ThreadRow | None, plan: PlanView | None, history: list[HistoryRow]) -> None:
        title = self.query_one("#detail-title", Static)
        path = self.query_one("#plan-path", Static)
        if row is None or plan is None:
            title.update("no thread selected")
            path.update("")
            self._show_history([])
            return
        title.update(thread_title(row))
        path.update(plan_path(plan))
        self._show_history(history)

    def _show_history(self, history: list[HistoryRow]) -> None:
        if history == self._history:
            return
        self._history = history
        table = self.query_one("#history", DataTable)
        table.clear()
        # Newest first: the entry that explains a pause is the one the operator looks for.
        for entry in reversed(history):
            table.add_row(*history_cells(entry))

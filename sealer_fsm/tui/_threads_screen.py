"""The main view: the live thread table, the selected thread's detail, and the operator's keys.

Everything the operator does goes through the controller; every refusal or lost connection is shown in the
status line (and as a notification) and the view keeps running, retrying the worker on every refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.tui._confirm_screen import ConfirmScreen
from sealer_fsm.tui._controller import Controller, ControllerError, ThreadRow, WorkerSummary
from sealer_fsm.tui._detail_pane import DetailPane
from sealer_fsm.tui._help_screen import HelpScreen
from sealer_fsm.tui._recovery import (
    abort_summary,
    common_states,
    resume_summary,
    shared_current_state,
    targets_title,
)
from sealer_fsm.tui._resume_picker import ResumePicker
from sealer_fsm.tui._summary import summary_text
from sealer_fsm.tui._thread_table import ThreadTable, matches_filter

# The keys of the thread view, in the order the help screen (`?`) lists them.
KEYS = [
    Binding("p", "pause(False)", "Pause", tooltip="pause at the thread's next checkpoint"),
    Binding("P", "pause(True)", "Pause now", key_display="P", tooltip="pause at once, cancelling the running step"),
    Binding("r", "resume", "Resume", tooltip="pick the state to resume into (or Abort), then confirm"),
    Binding("a", "abort", "Abort", tooltip="drop the paused task's sector, after confirmation"),
    Binding("slash", "filter", "Filter", key_display="/", tooltip="show only threads whose state or text matches"),
    Binding("space", "mark", "Mark", tooltip="mark or unmark a thread; p, P, r and a then act on all marked"),
    Binding("escape", "clear", "Clear", key_display="esc", tooltip="clear the filter and the marks"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="this list"),
    Binding("q", "quit", "Quit", tooltip="leave the UI"),
]


class ThreadsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(KEYS)

    DEFAULT_CSS = """
    ThreadsScreen #summary { height: auto; max-height: 3; background: $panel; padding: 0 1; }
    ThreadsScreen #threads { max-height: 60%; }
    ThreadsScreen #detail { height: 1fr; min-height: 6; border-top: solid $accent; padding: 0 1; }
    ThreadsScreen #detail-title, ThreadsScreen #plan-path, ThreadsScreen #history { height: auto; }
    ThreadsScreen #filter { display: none; }
    ThreadsScreen #status { height: 1; padding: 0 1; }
    """

    def __init__(self, controller: Controller, refresh_interval: float) -> None:
        super().__init__()
        self._controller = controller
        self._refresh_interval = refresh_interval
        self._refresh_lock = asyncio.Lock()
        self._worker: WorkerSummary | None = None
        self._rows: list[ThreadRow] = []
        self._marked: set[int] = set()
        self._query = ""
        self._connected = True
        self._summary = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield ThreadTable(id="threads")
        yield DetailPane(id="detail")
        yield Input(placeholder="filter by state or any text   enter: keep   esc: clear", id="filter")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ThreadTable).focus()
        self.set_interval(self._refresh_interval, self.refresh_threads)
        self.call_later(self.refresh_threads)

    # -- refreshing ------------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[ThreadRow]:
        """The threads as of the last successful refresh."""
        return self._rows

    @property
    def marked(self) -> set[int]:
        return set(self._marked)

    async def refresh_threads(self) -> None:
        """Fetch every thread and redraw; a failure leaves the last picture up and says why."""
        async with self._refresh_lock:
            try:
                # Every refresh: the worker's plan warnings change while it runs.
                self._worker = await self._controller.worker_info()
                rows = await self._controller.threads()
            except ControllerError as error:
                self._connection_failed(error)
                return
            if not self._connected:
                self._connected = True
                self.say("reconnected to the worker", "information")
            self._rows = rows
            self._redraw()
            await self._refresh_detail()

    def _connection_failed(self, error: ControllerError) -> None:
        if self._connected:
            self._connected = False
            self.say(f"{error.message}; retrying every {self._refresh_interval:g}s", "error")
        self._redraw()

    def _redraw(self) -> None:
        self._marked &= {row.index for row in self._rows}
        shown = [row for row in self._rows if matches_filter(row, self._query)]
        self.query_one(ThreadTable).show(shown, self._marked)
        summary = summary_text(
            self._worker,
            self._rows,
            shown=len(shown),
            marked=len(self._marked),
            query=self._query,
            connected=self._connected,
        )
        if summary != self._summary:  # an unchanged header is not laid out again
            self._summary = summary
            self.query_one("#summary", Static).update(summary)

    async def _refresh_detail(self) -> None:
        pane = self.query_one(DetailPane)
        row = self._row(self.query_one(ThreadTable).selected_index())
        if row is None:
            pane.show(None, None, [])
            return
        try:
            plan = await self._controller.plan(row.index)
            history = await self._controller.history(row.index)
        except ControllerError as error:
            if error.connection_lost:
                self._connection_failed(error)
            else:
                self.say(error.message, "error")
            return
        pane.show(row, plan, history)

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, ThreadTable):
            await self._refresh_detail()

    def say(self, message: str, severity: str = "information") -> None:
        """Show a message in the status line and as a notification; errors stay in the status line."""
        style = {"error": "bold red", "warning": "yellow"}.get(severity, "")
        self.query_one("#status", Static).update(Text(message, style=style))
        self.notify(message, severity=severity, timeout=6)  # type: ignore[arg-type]

    def _row(self, index: int | None) -> ThreadRow | None:
        return next((row for row in self._rows if row.index == index), None)

    def _targets(self) -> list[ThreadRow]:
        """The marked threads, or else the one under the cursor."""
        if self._marked:
            return [row for row in self._rows if row.index in self._marked]
        row = self._row(self.query_one(ThreadTable).selected_index())
        return [row] if row is not None else []

    # -- actions ---------------------------------------------------------------------------------------------

    async def action_pause(self, now: bool) -> None:
        async def pause(row: ThreadRow) -> str:
            queued = await self._controller.pause(row.index, now)
            if not queued:
                return f"thread {row.index} is already paused or about to pause"
            return f"thread {row.index} pauses {'now' if now else 'at its next checkpoint'}"

        await self._act_on(self._targets(), pause)

    @work(exclusive=True, group="dialog")
    async def action_resume(self) -> None:
        rows = self._paused_targets("resume")
        if not rows:
            return
        try:
            plans = [await self._controller.plan(row.index) for row in rows]
        except ControllerError as error:
            self.say(error.message, "error")
            return
        title = targets_title("Resume", rows)
        picker = ResumePicker(title, common_states(plans), shared_current_state(plans))
        choice = await self.app.push_screen_wait(picker)
        if choice is None:
            self.say("resume cancelled; nothing changed")
            return
        confirmed = await self.app.push_screen_wait(ConfirmScreen(title, resume_summary(rows, plans, choice)))
        if confirmed is None:
            self.say("resume cancelled; nothing changed")
            return

        async def resume(row: ThreadRow) -> str:
            await self._controller.resume(row.index, choice.state, choice.force, choice.reason)
            return f"thread {row.index} resumed{f' into {choice.state}' if choice.state else ''}"

        await self._act_on(rows, resume)

    @work(exclusive=True, group="dialog")
    async def action_abort(self) -> None:
        rows = self._paused_targets("abort")
        if not rows:
            return
        title = targets_title("Abort", rows)
        confirmed = await self.app.push_screen_wait(ConfirmScreen(title, abort_summary(rows), ask_reason=True))
        if confirmed is None:
            self.say("abort cancelled; nothing changed")
            return

        async def abort(row: ThreadRow) -> str:
            await self._controller.resume(row.index, ABORT_STATE, False, confirmed.reason)
            if row.sector is None:
                return f"thread {row.index}: task aborted (it had no sector yet)"
            return f"thread {row.index}: sector {row.sector} aborted"

        await self._act_on(rows, abort)

    def _paused_targets(self, verb: str) -> list[ThreadRow]:
        """Only a paused thread can be resumed or aborted: say so before opening any dialog."""
        rows = self._targets()
        if not rows:
            self.say("no thread selected", "warning")
            return []
        running = [str(row.index) for row in rows if not row.paused]
        if running:
            self.say(f"cannot {verb}: thread {', '.join(running)} is not paused (pause it first with p or P)", "error")
            return []
        return rows

    async def _act_on(self, rows: list[ThreadRow], act: Callable[[ThreadRow], Awaitable[str]]) -> None:
        """Apply `act` to each thread; report what was done and each refusal, then clear the marks and refresh."""
        done, refused = [], []
        for row in rows:
            try:
                done.append(await act(row))
            except ControllerError as error:
                refused.append(f"thread {row.index}: {error.message}")
        if refused:
            self.say("; ".join(refused), "error")
        elif done:
            self.say("; ".join(done))
            self._marked.clear()
        await self.refresh_threads()

    def action_mark(self) -> None:
        table = self.query_one(ThreadTable)
        index = table.selected_index()
        if index is None:
            return
        self._marked ^= {index}  # the cursor stays: "down, space, down, space" marks the two threads it passed
        self._redraw()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._query = event.value.strip()
            self._redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = False
            self.query_one(ThreadTable).focus()

    def action_clear(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self._query = ""
        self._marked.clear()
        self._redraw()
        self.query_one(ThreadTable).focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(KEYS))

    def action_quit(self) -> None:
        self.app.exit()

"""The live table of sealing threads, updated in place so the cursor and the scroll position survive each refresh.

Columns are laid out by priority for the terminal's width (`sealer_fsm.thread_columns`); the layout changes only
when the terminal is resized or a longer value appears, so an ordinary refresh rewrites only the changed cells.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from sealer_fsm.thread_columns import BY_KEY, Cells, Layout, content_widths, plan_layout
from sealer_fsm.tui._controller import ThreadRow
from sealer_fsm.tui._format import dash, duration, thread_state_style

MARK = "●"


def matches_filter(row: ThreadRow, query: str) -> bool:
    """A row matches when the query (case-insensitive) is in its state, thread state or any other text it shows."""
    if not query:
        return True
    needle = query.casefold()
    haystack = (
        str(row.index),
        row.plan,
        row.sector,
        row.state,
        row.stage,
        row.thread_state,
        row.waiting_for,
        row.last_error,
    )
    return any(needle in value.casefold() for value in haystack if value)


def stage_text(row: ThreadRow) -> str:
    return f"{row.stage} (simulated)" if row.simulated else dash(row.stage)


def _stage_cell(row: ThreadRow) -> tuple[str, str]:
    """The stage, marked when simulated; a waiting thread's says what it waits for (`PC1: pc1 slot (2/2 busy)`)."""
    if row.waiting_for:
        return f"{row.stage}: {row.waiting_for}", thread_state_style(row.thread_state)
    return stage_text(row), "italic" if row.simulated else ""


def row_cells(row: ThreadRow, marked: bool) -> Cells:
    style = thread_state_style(row.thread_state)
    return {
        "index": (f"{MARK if marked else ' '}{row.index}", "bold magenta" if marked else style),
        "plan": (row.plan, ""),
        "sector": (dash(row.sector), ""),
        "state": (dash(row.state), "bold" if row.paused else ""),
        "stage": _stage_cell(row),
        "thread": (row.thread_state, style),
        "elapsed": (duration(row.elapsed) if row.state else "-", ""),
        "retry": (str(row.retry), "yellow" if row.retry else ""),
        "error": (dash(row.last_error), "red" if row.last_error else ""),
    }


def _cell(text: str, style: str) -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


class ThreadTable(DataTable[Text]):
    """One row per thread, keyed by the thread's index."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, Cells] = {}
        self._layout: Layout = ()
        self._widths = content_widths([])

    @property
    def column_layout(self) -> Layout:
        return self._layout

    def _available_width(self) -> int:
        """The width rows can use: the widget's, less a vertical scrollbar's (kept free so rows never shift)."""
        return self.size.width - self.styles.scrollbar_size_vertical

    def selected_index(self) -> int | None:
        """The thread under the cursor, or None when the table is empty."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def shown_indices(self) -> list[int]:
        return [int(key) for key in self._shown]

    def show(self, rows: list[ThreadRow], marked: set[int]) -> None:
        """Show exactly `rows`, in order: only changed cells are rewritten when the same threads are shown."""
        wanted = {str(row.index): row_cells(row, row.index in marked) for row in rows}
        self._widths = content_widths(list(wanted.values()), self._widths)
        layout = plan_layout(self._available_width(), self._widths, self.cell_padding)
        if layout != self._layout or list(wanted) != list(self._shown):
            self._rebuild(wanted, layout)
            return
        for key, cells in wanted.items():
            before = self._shown[key]
            for column, _ in layout:
                if cells[column] != before[column]:
                    self.update_cell(key, column, _cell(*cells[column]))
        self._shown = wanted

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        layout = plan_layout(self._available_width(), self._widths, self.cell_padding)
        if layout != self._layout:
            self._rebuild(self._shown, layout)

    def _rebuild(self, wanted: dict[str, Cells], layout: Layout) -> None:
        """The shown threads or the columns changed: re-add everything, keeping the cursor's thread in view."""
        cursor_key = str(self.selected_index()) if self.row_count else None
        scroll_y = self.scroll_y
        self.clear(columns=layout != self._layout)
        if not self.columns:
            for key, width in layout:
                self.add_column(BY_KEY[key].header, key=key, width=width)
        for key, cells in wanted.items():
            self.add_row(*(_cell(*cells[column]) for column, _ in layout), key=key)
        self._shown, self._layout = wanted, layout
        # As tall as its rows (up to the screen's max-height), so that a few threads leave room for the detail.
        self.styles.height = len(wanted) + 1
        if cursor_key in wanted:
            self.move_cursor(row=list(wanted).index(cursor_key), scroll=False)
        # The new rows are measured on the next refresh; scrolling before that would be clamped to the top.
        self.call_after_refresh(self._restore_view, scroll_y)

    def _restore_view(self, scroll_y: float) -> None:
        """Back to where the operator was looking, with the cursor's thread in view (moving only if it is not)."""
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
        if self.row_count:
            self.move_cursor(row=self.cursor_row, scroll=True)

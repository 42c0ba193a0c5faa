"""The live table of sealing threads, updated in place so the cursor and the scroll position survive each refresh."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from sealer_fsm.tui._controller import ThreadRow
from sealer_fsm.tui._format import dash, duration, thread_state_style

MARK = "●"

# (key, header, width). Widths are fixed: letting a column grow with its text makes Textual re-measure the whole
# column for every updated cell, which costs seconds a frame with a thousand threads. The detail pane shows the
# full last error.
_COLUMNS = (
    ("mark", " ", 1),
    ("index", "#", 4),
    ("plan", "plan", 8),
    ("sector", "sector", 16),
    ("state", "state", 20),
    ("stage", "stage", 27),
    ("thread", "thread", 7),
    ("elapsed", "elapsed", 7),
    ("retry", "retry", 5),
    ("error", "last error", 60),
)

Cells = tuple[tuple[str, str], ...]  # (text, style) per column


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


def _stage_cell(row: ThreadRow) -> tuple[str, str]:
    """The stage, marked when simulated; a waiting thread's says what it waits for (`PC1: pc1 slot (2/2 busy)`)."""
    if row.waiting_for:
        return f"{row.stage}: {row.waiting_for}", thread_state_style(row.thread_state)
    return (f"{row.stage} (simulated)" if row.simulated else dash(row.stage), "italic" if row.simulated else "")


def row_cells(row: ThreadRow, marked: bool) -> Cells:
    style = thread_state_style(row.thread_state)
    return (
        (MARK if marked else "", "bold magenta"),
        (str(row.index), style),
        (row.plan, ""),
        (dash(row.sector), ""),
        (dash(row.state), "bold" if row.paused else ""),
        _stage_cell(row),
        (row.thread_state, style),
        (duration(row.elapsed) if row.state else "-", ""),
        (str(row.retry), "yellow" if row.retry else ""),
        (dash(row.last_error), "red" if row.last_error else ""),
    )


class ThreadTable(DataTable[Text]):
    """One row per thread, keyed by the thread's index."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, Cells] = {}

    def on_mount(self) -> None:
        for key, header, width in _COLUMNS:
            self.add_column(header, key=key, width=width)

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
        if list(wanted) != list(self._shown):
            self._rebuild(wanted)
            return
        for key, cells in wanted.items():
            before = self._shown[key]
            for (column, _, _), new, old in zip(_COLUMNS, cells, before, strict=True):
                if new != old:
                    self.update_cell(key, column, Text(new[0], style=new[1]))
        self._shown = wanted

    def _rebuild(self, wanted: dict[str, Cells]) -> None:
        """The set of shown threads changed (filter, thread count): re-add rows, keeping the cursor's thread in view."""
        cursor_key = str(self.selected_index()) if self.row_count else None
        scroll_y = self.scroll_y
        self.clear()
        for key, cells in wanted.items():
            self.add_row(*(Text(text, style=style) for text, style in cells), key=key)
        self._shown = wanted
        if cursor_key in wanted:
            self.move_cursor(row=list(wanted).index(cursor_key), scroll=False)
        if scroll_y:
            # The new rows are measured on the next refresh; scrolling before that would be clamped to the top.
            self.call_after_refresh(self.scroll_to, y=scroll_y, animate=False)

"""The `?` screen: every key of the thread view with what it does, read from the view's own bindings."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


def key_table(bindings: Iterable[Binding]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for binding in bindings:
        table.add_row(binding.key_display or binding.key, binding.description, binding.tooltip)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: auto; max-height: 100%; border: thick $accent; padding: 0 1;
    }
    """

    def __init__(self, keys: Iterable[Binding]) -> None:
        super().__init__()
        # Not `_bindings`: that is Textual's own map of this screen's keys, which its key dispatch reads.
        self._keys = list(keys)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(key_table(self._keys))
            yield Static(
                "Pause takes effect at the thread's next checkpoint; pause now also cancels the running step, which "
                "runs again on resume. Only a paused thread can be resumed or aborted. Marked threads (space) are "
                "what p, P, r and a act on; without marks they act on the thread under the cursor."
            )
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

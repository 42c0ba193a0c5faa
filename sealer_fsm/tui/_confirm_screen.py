"""The last question before an action that changes a task: it says exactly what will happen."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static


@dataclass(frozen=True)
class Confirmed:
    reason: str | None = None


class ConfirmScreen(ModalScreen[Confirmed | None]):
    """`y`/Enter confirms, `n`/Escape cancels; with `ask_reason`, Enter in the reason field confirms."""

    BINDINGS = [
        Binding("enter,y", "confirm", "Confirm"),
        Binding("escape,n", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%; border: thick $warning; padding: 0 1;
    }
    """

    def __init__(self, title: str, body: Text | str, *, ask_reason: bool = False) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._ask_reason = ask_reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title, style="bold"))
            yield Static(self._body, id="what-happens")
            if self._ask_reason:
                yield Input(placeholder="reason (optional; kept in the task's history)", id="reason")
            yield Static("enter: confirm   esc: cancel" if self._ask_reason else "y/enter: confirm   n/esc: cancel")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def action_confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip() if self._ask_reason else ""
        self.dismiss(Confirmed(reason=reason or None))

    def action_cancel(self) -> None:
        self.dismiss(None)

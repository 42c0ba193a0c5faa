"""The resume picker: which state a paused thread resumes into (or `Abort`), an optional reason, and `force`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.tui._controller import PlanState

# The option that resumes every chosen thread in its own current state (offered when they differ).
AS_IS = "(as is)"


@dataclass(frozen=True)
class ResumeChoice:
    state: str | None  # None: re-run the current state's step
    reason: str | None
    force: bool


def _option_label(state: PlanState) -> Text:
    label = Text(state.name, style="bold red" if state.name == ABORT_STATE else "bold")
    label.append(f"  {state.stage}" if state.stage != "-" else "", style="dim")
    if state.name == ABORT_STATE:
        label.append("  drop the sector: its files are cleaned, the thread takes the next task", style="dim")
    return label


class ResumePicker(ModalScreen[ResumeChoice | None]):
    """Enter picks the highlighted state from anywhere in the picker (the list, the reason, the force box, where
    Textual's own Enter would toggle it); space ticks the box; Escape leaves everything unchanged."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Choose", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    ResumePicker { align: center middle; }
    ResumePicker > Vertical {
        width: 90; max-width: 100%; height: auto; max-height: 100%; border: thick $accent; padding: 0 1;
    }
    ResumePicker OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, title: str, states: list[PlanState], preselected: str | None) -> None:
        super().__init__()
        self._title = title
        self._states = states
        self._preselected = preselected

    def compose(self) -> ComposeResult:
        options = [Option(_option_label(state), id=state.name) for state in self._states]
        if self._preselected is None:
            options.insert(0, Option(Text(f"{AS_IS}  each thread re-runs its current state", style="bold"), id=AS_IS))
        with Vertical():
            yield Static(Text(self._title, style="bold"))
            yield OptionList(*options, id="states")
            yield Input(placeholder="reason (optional; kept in the task's history)", id="reason")
            yield Checkbox("force: jump even if the task lacks the data that state needs", id="force")
            yield Static("enter: choose   tab: next field   space: tick force   esc: cancel", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        states = self.query_one("#states", OptionList)
        wanted = AS_IS if self._preselected is None else self._preselected
        states.highlighted = states.get_option_index(wanted)
        states.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A click on a state chooses it, as Enter does."""
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        option = self.query_one("#states", OptionList).highlighted_option
        if option is None:
            return
        reason = self.query_one("#reason", Input).value.strip() or None
        force = self.query_one("#force", Checkbox).value
        state = None if option.id == AS_IS else option.id
        self.dismiss(ResumeChoice(state=state, reason=reason, force=force))

    def action_cancel(self) -> None:
        self.dismiss(None)

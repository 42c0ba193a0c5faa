"""What a resume or an abort will do, in words, for the confirmation the operator answers before anything changes."""

from __future__ import annotations

from rich.text import Text

from sealer_fsm.plans import ABORT_STATE
from sealer_fsm.tui._controller import PlanState, PlanView, ThreadRow
from sealer_fsm.tui._format import dash
from sealer_fsm.tui._resume_picker import ResumeChoice


def targets_title(verb: str, rows: list[ThreadRow]) -> str:
    if len(rows) == 1:
        row = rows[0]
        return f"{verb} thread {row.index} ({dash(row.sector)}, paused in {dash(row.state)})"
    return f"{verb} {len(rows)} threads: {', '.join(str(row.index) for row in rows)}"


def common_states(plans: list[PlanView]) -> list[PlanState]:
    """The states every chosen thread's plan has, in the first plan's order: the only safe choices for all."""
    first, *others = plans
    return [state for state in first.states if all(other.get(state.name) for other in others)]


def shared_current_state(plans: list[PlanView]) -> str | None:
    """The state to preselect: the one all chosen tasks are in, or None when they differ."""
    currents = {plan.current for plan in plans}
    return currents.pop() if len(currents) == 1 else None


def _thread_label(row: ThreadRow) -> Text:
    return Text(f"thread {row.index} ({dash(row.sector)}): ", style="bold")


def _abort_line(row: ThreadRow) -> Text:
    line = _thread_label(row)
    line.append(f"{dash(row.state)} → ")
    line.append(ABORT_STATE, style="bold red")
    if row.sector is None:
        line.append(": the task (which has no sector yet) is closed, and the thread takes the next task")
    else:
        line.append(": the sector is dropped, its files are cleaned, and the thread takes the next task")
    return line


def resume_consequence(row: ThreadRow, plan: PlanView, choice: ResumeChoice) -> Text:
    """One line per thread: from where to where, and which step runs next."""
    current = plan.current
    if choice.state == ABORT_STATE:
        return _abort_line(row)
    line = _thread_label(row)
    if choice.state is None or choice.state == current:
        spec = plan.get(current) if current else None
        line.append(f"stays in {dash(current)} and runs its step ({dash(spec and spec.step)}) again")
    else:
        target = plan.get(choice.state)
        line.append(f"{dash(current)} → {choice.state}, then runs {dash(target.step if target else None)}")
        if choice.force:
            line.append(" (forced, even if the task lacks data that state needs)", style="yellow")
    return line


def resume_summary(rows: list[ThreadRow], plans: list[PlanView], choice: ResumeChoice) -> Text:
    text = Text()
    for row, plan in zip(rows, plans, strict=True):
        text.append_text(resume_consequence(row, plan, choice))
        text.append("\n")
    if choice.reason:
        text.append(f"reason recorded in the history: {choice.reason}", style="italic")
    return text


def abort_summary(rows: list[ThreadRow]) -> Text:
    text = Text()
    for row in rows:
        text.append_text(_abort_line(row))
        text.append("\n")
    text.append("This cannot be undone.", style="bold")
    return text

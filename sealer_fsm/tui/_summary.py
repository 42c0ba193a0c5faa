"""The header line: which worker this is, and how many of its threads are in each thread state."""

from __future__ import annotations

from collections import Counter

from rich.text import Text

from sealer_fsm.tui._controller import THREAD_STATES, ThreadRow, WorkerSummary
from sealer_fsm.tui._format import thread_state_style
from sealer_fsm.wording import refused_plan_edit


def summary_text(
    worker: WorkerSummary | None, rows: list[ThreadRow], *, shown: int, marked: int, query: str, connected: bool
) -> Text:
    text = Text()
    if worker is None:
        text.append("sealer-fsm  (connecting…)", style="bold")
    else:
        text.append(f"{worker.name}", style="bold")
        text.append(f"  sealer-fsm {worker.version}", style="dim")
    if not connected:
        text.append("  DISCONNECTED", style="bold white on red")
    counts = Counter(row.thread_state for row in rows)
    text.append(f"   {len(rows)} threads:")
    for thread_state in THREAD_STATES:
        text.append(f" {counts.get(thread_state, 0)} {thread_state.lower()}", style=thread_state_style(thread_state))
    if query:
        text.append(f"   filter {query!r}: {shown} shown", style="cyan")
    if marked:
        text.append(f"   {marked} marked", style="bold magenta")
    for path, faults in worker.plan_warnings if worker is not None else ():
        text.append("\n")
        text.append_text(plan_warning_text(path, faults))
    return text


def plan_warning_text(path: str, faults: str) -> Text:
    """One line per refused plan edit, in the warning colours."""
    sentence = refused_plan_edit(path, faults)
    head, rest = sentence.split(": ", 1)
    text = Text(f"{head}:", style="bold black on yellow")
    text.append(f" {rest}", style="yellow")
    return text

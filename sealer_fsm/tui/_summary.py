"""The header line: which worker this is, and how many of its threads are in each thread state."""

from __future__ import annotations

from collections import Counter

from rich.text import Text

from sealer_fsm.tui._controller import THREAD_STATES, ThreadRow, WorkerSummary
from sealer_fsm.tui._format import thread_state_style


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
    """One line per refused plan edit: which file, that the previous version is still used, and the first fault."""
    lines = faults.splitlines()
    more = f" (and {len(lines) - 1} more; `sealer-fsm plan check {path}`)" if len(lines) > 1 else ""
    text = Text("plan edit refused: ", style="bold black on yellow")
    text.append(f"{path} does not load; its threads keep the previous version: ", style="yellow")
    text.append(f"{lines[0] if lines else faults}{more}", style="yellow")
    return text

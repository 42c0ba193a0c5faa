"""Sentences the CLI and the TUI both show, worded once so the two surfaces say the same thing.

Framework-free (no Rich, no Textual): each surface styles the text its own way.
"""

from __future__ import annotations


def refused_plan_edit(path: str, faults: str) -> str:
    """A plan file edited into something that does not load: which file, that its threads keep the previous
    version, and the first fault (with how many more, and the command that lists them all)."""
    lines = faults.splitlines() or [faults]
    more = f" (and {len(lines) - 1} more: `sealer-fsm plan check {path}`)" if len(lines) > 1 else ""
    return f"plan edit refused: {path} does not load; its threads keep the previous version: {lines[0]}{more}"

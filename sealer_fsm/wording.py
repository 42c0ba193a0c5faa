"""Sentences the CLI and the TUI both show, worded once so the two surfaces say the same thing.

Framework-free (no Rich, no Textual): each surface styles the text its own way.
"""

from __future__ import annotations

import datetime


def refused_plan_edit(path: str, faults: str) -> str:
    """A plan file edited into something that does not load: which file, that its threads keep the previous
    version, and the first fault (with how many more, and the command that lists them all)."""
    lines = faults.splitlines() or [faults]
    more = f" (and {len(lines) - 1} more: `sealer-fsm plan check {path}`)" if len(lines) > 1 else ""
    return f"plan edit refused: {path} does not load; its threads keep the previous version: {lines[0]}{more}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 task`, `0 tasks`, `2 tasks`: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def listed(items: list[str]) -> str:
    """`1`, `1 and 2`, `1, 2 and 3`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def clock_text(at: float) -> str:
    """A moment as the operator's local date and time, to the second."""
    return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def pause_note(paused_by: str | None, paused_at: float | None, reason: str | None) -> str:
    """Who paused a thread, when and why: `paused by alice at 2026-03-01 10:02:03: disk swap`."""
    note = f"paused by {paused_by or 'someone'}"
    if paused_at is not None:
        note += f" at {clock_text(paused_at)}"
    return f"{note}: {reason}" if reason else note


def error_or_pause_note(
    last_error: str | None,
    paused: bool,
    paused_by: str | None,
    paused_at: float | None,
    pause_reason: str | None,
) -> str | None:
    """What a thread's last-error column shows: for a thread paused by a request (an operator's, not a failure's:
    the failure is the last error then) who paused it, when and why, then any earlier last error; else the last
    error. An operator-paused thread never shows an empty column."""
    if not paused or paused_by is None or (last_error is not None and pause_reason == last_error):
        return last_error
    note = pause_note(paused_by, paused_at, pause_reason)
    return note if last_error is None else f"{note}; last error: {last_error}"

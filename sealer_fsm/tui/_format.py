"""How values read on screen: durations like the reference's `Paused(17s)`, times, and thread-state colours."""

from __future__ import annotations

import time

# One colour per thread state, so a paused thread stands out in a screen of running ones.
THREAD_STATE_STYLES = {
    "Paused": "bold red",
    "Running": "green",
    "Waiting": "yellow",
    "Idle": "dim",
}


def thread_state_style(thread_state: str) -> str:
    return THREAD_STATE_STYLES.get(thread_state, "")


def duration(seconds: float) -> str:
    """Two units at most ("1h 2m", "3m 5s", "17s"): enough to judge a stuck state at a glance."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def clock_time(epoch_seconds: float) -> str:
    """Local date and time of a history entry, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_seconds))


def dash(value: object) -> str:
    """Empty values shown as "-" so a blank cell never looks like a rendering fault."""
    return "-" if value is None or value == "" else str(value)

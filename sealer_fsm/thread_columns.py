"""Which columns of a thread table fit a width, shared by the TUI's table and `sealer-fsm run`'s live view.

Columns are laid out by priority: the thread, its sector, state, thread state, elapsed time and last error always
show; stage, retry and plan are added, in that order, only while the last error keeps room to be read. Widths
follow the longest value seen (within bounds) and never shrink, so a table redrawn every second keeps its
columns where they were and its rows one line high.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    minimum: int  # the narrowest the column is drawn
    maximum: int  # longer values are cut with "…"


# In display order. The last error takes whatever width is left. Minimums fit the shipped plans' longest values
# (PersistanceSubmitted, s-t01000-100), so that the widths settle at the first refresh instead of growing (and the
# table being rebuilt) while the first tasks move on.
COLUMNS = (
    Column("index", "#", 3, 6),
    Column("plan", "plan", 6, 16),
    Column("sector", "sector", 12, 20),
    Column("state", "state", 20, 24),
    Column("stage", "stage", 18, 28),
    Column("thread", "thread", 7, 7),
    Column("elapsed", "elapsed", 7, 8),
    Column("retry", "retry", 5, 5),
    Column("error", "last error", 12, 400),
)
BY_KEY = {column.key: column for column in COLUMNS}
ALWAYS_SHOWN = ("index", "sector", "state", "thread", "elapsed", "error")
# Added while there is room, in this order; each only if the last error keeps ERROR_ROOM characters.
OPTIONAL = ("stage", "retry", "plan")
ERROR_ROOM = 30

Cells = dict[str, tuple[str, str]]  # column key → (text, style)
Layout = tuple[tuple[str, int], ...]  # (column key, width) of the shown columns, in display order


def content_widths(rows: list[Cells], seen: dict[str, int] | None = None) -> dict[str, int]:
    """The width each column (but the last error) needs for `rows`, and never less than it needed before."""
    widths = {}
    for column in COLUMNS[:-1]:
        longest = max([len(column.header), (seen or {}).get(column.key, 0), *(len(row[column.key][0]) for row in rows)])
        widths[column.key] = max(column.minimum, min(column.maximum, longest))
    return widths


def plan_layout(available: int, widths: dict[str, int], padding: int = 1) -> Layout:
    """Which columns to show in `available` characters, each with `padding` on both sides, and how wide each is
    (without its padding); the last error gets the rest."""
    shown = [key for key in ALWAYS_SHOWN if key != "error"]

    def error_width(keys: list[str]) -> int:
        return available - sum(widths[key] + 2 * padding for key in keys) - 2 * padding

    for key in OPTIONAL:
        if error_width([*shown, key]) >= ERROR_ROOM:
            shown.append(key)
    error = max(BY_KEY["error"].minimum, error_width(shown))
    return tuple((column.key, widths.get(column.key, error)) for column in COLUMNS if column.key in {*shown, "error"})

"""Reading the trace our processor children append (SEALER_FSM_PROCESSOR_TRACE): what ran when, by the children's
own clock (CLOCK_MONOTONIC, one clock for every process of the machine), not by the worker's bookkeeping."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Interval:
    stage: str
    pid: int
    request: int
    start: float
    end: float  # infinity for a task whose child died before it ended
    ok: bool | None


def read_intervals(path: Path) -> list[Interval]:
    starts: dict[tuple[int, int], dict] = {}
    ends: dict[tuple[int, int], dict] = {}
    if not path.exists():
        return []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        key = (record["pid"], record["id"])
        (starts if record["event"] == "start" else ends)[key] = record
    return sorted(
        (
            Interval(
                record["stage"],
                key[0],
                key[1],
                record["at"],
                ends[key]["at"] if key in ends else float("inf"),
                ends[key]["ok"] if key in ends else None,
            )
            for key, record in starts.items()
        ),
        key=lambda interval: interval.start,
    )


def max_overlap(intervals: list[Interval]) -> int:
    """The most intervals open at one instant (an end at the same instant as a start comes first)."""
    events = sorted([(i.start, 1) for i in intervals] + [(i.end, -1) for i in intervals])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most

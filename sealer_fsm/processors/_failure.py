"""How a stage fails, independently of the runtime (which sits above this package and maps it to its levels).

A `StageFailed` carries the reference's failure level as a word: temporary (retried later), permanent (the thread
pauses), critical, abort. Built-in stages raise it for bad input; a child's `err_msg` turns back into it; a child
that exits mid-call fails its calls as temporary.
"""

from __future__ import annotations

LEVELS = ("temporary", "permanent", "critical", "abort")


class StageFailed(Exception):
    def __init__(self, message: str, level: str = "permanent") -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown failure level {level!r}")
        super().__init__(message)
        self.message = message
        self.level = level

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def temporary(message: str) -> StageFailed:
    return StageFailed(message, "temporary")

"""Stopping a long proofs computation from outside: a flag that C loops read between chunks.

A step's blocking work runs on a worker thread, where cancelling the awaiting coroutine does not stop it. The
runtime instead sets the step's `CancelToken`; every long computation takes one (`cancel=`), and its C loop
reads the token's flag byte between chunks without the GIL, stops, and the Python wrapper raises `Cancelled`.
Whatever the computation was writing is then incomplete and was never renamed to its real name.
"""

from __future__ import annotations


class Cancelled(Exception):
    """A proofs computation stopped early because its CancelToken was set."""


class CancelToken:
    """A one-way flag: set once (from any thread), read often (from C, without the GIL)."""

    __slots__ = ("flag",)

    def __init__(self) -> None:
        # One writable byte: C code receives it as a buffer and polls it; 1 means "stop".
        self.flag = bytearray(1)

    def cancel(self) -> None:
        self.flag[0] = 1

    @property
    def cancelled(self) -> bool:
        return self.flag[0] != 0

    def check(self, what: str = "computation") -> None:
        """Raise Cancelled when the token is set; for Python loops between their own chunks."""
        if self.flag[0]:
            raise Cancelled(f"{what} cancelled")


NEVER_CANCELLED = bytearray(1)
"""The flag buffer handed to C when a caller passes no token (never set)."""


def flag_of(token: CancelToken | None) -> bytearray:
    """The buffer a C loop polls for `token`."""
    return NEVER_CANCELLED if token is None else token.flag

"""One process-wide budget of threads for multi-threaded C work (tree hashing, Poseidon trees).

Every sealing thread of a worker may hash at the same time; if each call started a thread per core, N sealing
threads would run N times cores threads on the host. Instead each call borrows threads from this budget for its
duration: it gets at least one (waiting for it if all are lent out) and at most what is free, so the host runs
about `total` hashing threads whatever the number of callers. The total defaults to the cores this process may
run on, capped at what the C code accepts, and is set from the machine file's `[proofs] threads`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sealer_fsm.proofs._cancel import CancelToken

MAX_THREADS = 256  # the most threads one C call accepts (MAX_THREADS in the C sources)
_POLL_SECONDS = 0.05  # how often a waiting caller looks at its cancel token


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), capped at MAX_THREADS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


class ThreadBudget:
    def __init__(self, total: int | None = None) -> None:
        self._condition = threading.Condition()
        self._total = usable_cores() if total is None else _check_total(total)
        self._lent = 0

    @property
    def total(self) -> int:
        return self._total

    def configure(self, total: int | None) -> None:
        """Set the total (None: every usable core). Threads already lent stay lent until returned."""
        with self._condition:
            self._total = usable_cores() if total is None else _check_total(total)
            self._condition.notify_all()

    @contextmanager
    def threads(self, wanted: int | None = None, cancel: CancelToken | None = None) -> Iterator[int]:
        """Borrow up to `wanted` threads (None: as many as the budget has) for the block; yields how many.

        Waits while every thread is lent out; raises Cancelled if `cancel` is set meanwhile.
        """
        if wanted is not None and (isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1):
            raise ValueError(f"threads must be a positive integer, got {wanted!r}")
        with self._condition:
            while self._lent >= self._total:
                if cancel is not None:
                    cancel.check("waiting for hashing threads")
                self._condition.wait(_POLL_SECONDS)
            granted = min(wanted or self._total, self._total - self._lent)
            self._lent += granted
        try:
            yield granted
        finally:
            with self._condition:
                self._lent -= granted
                self._condition.notify_all()


def _check_total(total: int) -> int:
    if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= MAX_THREADS:
        raise ValueError(f"the thread budget must be from 1 to {MAX_THREADS}, got {total!r}")
    return total


BUDGET = ThreadBudget()


def hashing_threads(wanted: int | None = None, cancel: CancelToken | None = None) -> AbstractContextManager[int]:
    """`with hashing_threads(wanted) as n:` borrow from the process-wide budget (see ThreadBudget.threads)."""
    return BUDGET.threads(wanted, cancel)


def configure_threads(total: int | None) -> None:
    """Set the process-wide budget (the machine file's `[proofs] threads`; None: every usable core)."""
    BUDGET.configure(total)

"""One writer thread per database, committing concurrent writes together (group commit).

Every write is a function of the connection, run inside a transaction on the writer's own thread. Writes that
arrive while a commit is on its way to disk are run together in the next transaction (should one of them fail, the
transaction is rolled back and run again with each write in its own savepoint, so one failing write does not undo
its neighbours), and share one commit: one `fsync` for many state changes.
A caller gets a `Commit`, which it can `await` (the event loop never waits for the disk) or `wait()` for; it
resolves only once the transaction holding its write is on disk, or fails with what went wrong. A caller that
changes its in-memory state after the commit resolves therefore never shows a change that is not stored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

from sealer_fsm.store._errors import storage_error

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], T]
# More writes than this in one transaction would only delay the first of them.
MAX_BATCH = 512


class Commit(concurrent.futures.Future[T], Generic[T]):
    """The outcome of one write: awaitable on an event loop, or waited for from any thread."""

    def __init__(self) -> None:
        super().__init__()
        # The event loops awaiting this commit, each with its own future. The writer wakes each loop once for a
        # whole batch of commits (see `wake_loops`), where `asyncio.wrap_future` would wake it once per commit.
        self._loop_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[T]]] = []

    def __await__(self) -> Generator[Any, None, T]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        with self._condition:  # the lock `set_result` takes: a waiter is added before it, or finds the outcome
            pending = not self.done()
            if pending:
                self._loop_waiters.append((loop, waiter))
        if not pending:
            _settle(self, waiter)
        try:
            return (yield from waiter.__await__())
        except asyncio.CancelledError:
            self.cancel()  # the caller gave up: a write that has not started yet is then never run
            raise

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:
            wake_loops([self])
        return cancelled

    def wait(self) -> T:
        return self.result()


def wake_loops(commits: Iterable[Commit[Any]]) -> None:
    """Hand the outcomes of resolved commits to the event loops awaiting them, with one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Commit[Any]]]] = {}
    for commit in commits:
        waiters, commit._loop_waiters = commit._loop_waiters, []
        for loop, waiter in waiters:
            by_loop.setdefault(loop, []).append((waiter, commit))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop has no one left to wake
            loop.call_soon_threadsafe(_settle_all, settled)


# How many awaiting tasks one pass of the event loop resumes: a group of 40 commits resumed at once would hold the
# loop for all their next steps (tens of milliseconds with 64 busy threads); in slices, timers and I/O get their
# turn between them.
SETTLE_SLICE = 8


def _settle_all(settled: list[tuple[asyncio.Future[Any], Commit[Any]]]) -> None:
    for waiter, commit in settled[:SETTLE_SLICE]:
        _settle(commit, waiter)
    rest = settled[SETTLE_SLICE:]
    if rest:
        rest[0][0].get_loop().call_soon(_settle_all, rest)


def _settle(commit: Commit[T], waiter: asyncio.Future[T]) -> None:
    if waiter.done():  # its awaiting task was cancelled
        return
    if commit.cancelled():
        waiter.cancel()
    elif (error := commit.exception()) is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(commit.result())


class _Stop:
    pass


class Writer:
    """Owns `db` (a connection in autocommit mode) and runs every write on its thread."""

    def __init__(self, db: sqlite3.Connection, path: Path, name: str) -> None:
        self._db = db
        self._path = path
        self._queue: queue.SimpleQueue[tuple[Write[Any], Commit[Any]] | _Stop] = queue.SimpleQueue()
        self._closed = False
        self.commits = 0  # transactions committed (tests and benchmarks compare it with the writes)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, write: Write[T]) -> Commit[T]:
        commit: Commit[T] = Commit()
        if self._closed:
            commit.set_exception(RuntimeError(f"the store {self._path} is closed"))
        else:
            self._queue.put((write, commit))
        return commit

    def close(self) -> None:
        """Finish the writes already submitted, then stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Stop())
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        while True:
            batch: list[tuple[Write[Any], Commit[Any]]] = []
            item = self._queue.get()
            stop = isinstance(item, _Stop)
            if not isinstance(item, _Stop):
                batch.append(item)
            while not stop and len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Write[Any], Commit[Any]]]) -> None:
        # A write whose caller gave up before it started (a cancelled await) is not run at all.
        batch = [(write, commit) for write, commit in batch if commit.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            # Savepoints cost two statements a write; they are only needed when a write fails on its own, which
            # is rare: then the whole transaction is rolled back and run again with one savepoint a write.
            outcomes = self._transaction(batch, isolated=False)
            if outcomes is None:
                outcomes = self._transaction(batch, isolated=True)
                assert outcomes is not None  # with savepoints a failing write fails alone
        except (sqlite3.Error, OSError) as error:
            failure = storage_error(self._path, "write", error)
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the connection may have rolled back already
                    self._db.execute("ROLLBACK")
            outcomes = [(False, failure)] * len(batch)
        for (_, commit), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                commit.set_result(value)
            else:
                commit.set_exception(value)
        wake_loops(commit for _, commit in batch)

    def _transaction(
        self, batch: list[tuple[Write[Any], Commit[Any]]], isolated: bool
    ) -> list[tuple[bool, Any]] | None:
        """Run and commit the batch's writes in one transaction, each in its own savepoint if `isolated`;
        without savepoints, a write failing on its own rolls the transaction back and returns None."""
        outcomes: list[tuple[bool, Any]] = []
        self._db.execute("BEGIN IMMEDIATE")
        for write, _ in batch:
            if isolated:
                outcomes.append(self._run_one(write))
                continue
            try:
                outcomes.append((True, write(self._db)))
            except (sqlite3.OperationalError, OSError):
                raise  # the disk or the database failed: the whole transaction fails
            except Exception:
                self._db.execute("ROLLBACK")
                return None
        self._db.execute("COMMIT")
        self.commits += 1
        return outcomes

    def _run_one(self, write: Write[T]) -> tuple[bool, Any]:
        """Run one write in its own savepoint: its failure is its own, its neighbours still commit."""
        self._db.execute("SAVEPOINT one_write")
        try:
            value = write(self._db)
        except (sqlite3.OperationalError, OSError):
            raise  # the disk or the database failed: the whole transaction fails
        except Exception as error:
            self._db.execute("ROLLBACK TO one_write")
            self._db.execute("RELEASE one_write")
            return False, error
        self._db.execute("RELEASE one_write")
        return True, value

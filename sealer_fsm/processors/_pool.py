"""The children of one stage, the named locks they share, and how a call picks its child.

As in the reference (`external/{load,concurrent,ext_locks}.rs`), a call that holds its stage token takes the
child with the most free capacity (`concurrent`, 64 when unset, minus its calls in flight) among those whose own
`concurrent` and every lock in `locks` can be taken at once. Unlike the reference, which then blocks on the first
child, a call that finds none waits for whichever child frees first. A child's locks are taken all together or
not at all, so two stages sharing locks can never hold one each and wait for the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sealer_fsm.processors._child import ChildState, ProcessorChild
from sealer_fsm.processors._failure import temporary


class Changes:
    """A wake-up for every call waiting on a child or a lock: anything released or restarted may unblock one."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


@dataclass(frozen=True)
class LockStatus:
    name: str
    held: int
    size: int


class ExtLocks:
    """`[processors.ext_locks]`: named counters shared by every child that lists the name in its `locks`."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self._sizes = dict(sizes)
        self._held = dict.fromkeys(sizes, 0)

    def free(self, names: tuple[str, ...]) -> bool:
        return all(self._held[name] < self._sizes[name] for name in names)

    def take(self, names: tuple[str, ...]) -> None:
        for name in names:
            self._held[name] += 1

    def give(self, names: tuple[str, ...]) -> None:
        for name in names:
            self._held[name] -= 1

    def status(self) -> list[LockStatus]:
        return [LockStatus(name, self._held[name], size) for name, size in sorted(self._sizes.items())]


_ALIVE = (ChildState.STARTING, ChildState.READY, ChildState.RESTARTING)


class StagePool:
    def __init__(self, stage: str, children: list[ProcessorChild], locks: ExtLocks, changes: Changes) -> None:
        self.stage = stage
        self.children = children
        self._locks = locks
        self._changes = changes

    async def acquire(self, report: Callable[[str], None]) -> ProcessorChild:
        """A child for one call, with its capacity and locks taken; waits (reporting why) while none is free.

        Raises a temporary StageFailed when no child of the stage is running or starting (each failed its handshake, or
        exited without auto_restart): the step is retried later rather than waiting silently."""
        while True:
            child = self._try_take()
            if child is not None:
                return child
            if not any(child.state in _ALIVE for child in self.children):
                reasons = "; ".join(child.last_error or f"{child.spec.label} not started" for child in self.children)
                raise temporary(f"no {self.stage} processor is running: {reasons}")
            report(self._blocker())
            await self._changes.wait()

    def release(self, child: ProcessorChild) -> None:
        child.load -= 1
        self._locks.give(child.spec.locks)
        self._changes.notify()

    def _try_take(self) -> ProcessorChild | None:
        candidates = [child for child in self.children if child.can_take() and self._locks.free(child.spec.locks)]
        if not candidates:
            return None
        chosen = max(candidates, key=lambda child: (child.free_capacity(), -child.spec.index))
        chosen.load += 1
        self._locks.take(chosen.spec.locks)
        return chosen

    def _blocker(self) -> str:
        """What the call waits for, as the thread's `waiting_for` shows it."""
        ready = [child for child in self.children if child.state is ChildState.READY]
        if not ready:
            return f"{self.stage} processor to start"
        with_room = [child for child in ready if child.can_take()]
        if not with_room:
            return f"{self.stage} processor (all {len(ready)} busy)"
        busy_locks = sorted({name for child in with_room for name in child.spec.locks if not self._locks.free((name,))})
        return f"lock {', '.join(busy_locks)}"

"""One external processor: a child process of a stage, kept running and spoken to over its pipes.

The supervisor task starts the child, waits for its handshake within `stable_wait`, then reads its responses until
it exits. When it exits every call in flight fails as temporary (`child process exited: <stage>`) and, with
`auto_restart`, it is started again after the reference's 3 s. A child that fails its handshake (prints something
else, nothing, or cannot start) is reported in one line naming its `bin` and tried again, waiting longer each
time (up to a minute), while every other stage goes on.

Everything runs on the event loop: the pipes are asyncio streams, a call is a future completed by the reader.
The child runs in its own process group, so stopping it also stops anything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealer_fsm.config import ExternalProcessor
from sealer_fsm.processors._failure import StageFailed, temporary
from sealer_fsm.processors._protocol import (
    LINE_LIMIT,
    ProtocolError,
    Response,
    decode_response,
    encode,
    failure_of,
    ready_line,
    shown,
)
from sealer_fsm.proofs import Cancelled, CancelToken
from sealer_fsm.units import format_duration

log = logging.getLogger("sealer_fsm.processors")

RESTART_DELAY = 3.0  # the reference's pause before restarting a child that exited
MAX_RETRY_DELAY = 60.0  # the longest pause between handshake attempts of a child that keeps failing
CANCEL_GRACE = 10.0  # how long a cancelled request may take to stop before its child is killed
CLOSE_GRACE = 2.0  # how long a child may take to exit once its stdin is closed
CANCEL_POLL = 0.25  # how often a call looks at its cancel token


def _interval(seconds: float) -> str:
    """An interval in messages: "300ms" below a second, "3s", "1m 0s" above."""
    return f"{round(seconds * 1000)}ms" if seconds < 1 else format_duration(seconds)


class ChildState(enum.Enum):
    STARTING = "starting"  # spawned, waiting for the handshake
    READY = "ready"
    RESTARTING = "restarting"  # exited; started again after the restart delay
    FAILED = "failed"  # the last start failed its handshake; tried again later
    STOPPED = "stopped"  # exited without auto_restart, or closed


class HandshakeFailed(Exception):
    pass


@dataclass(frozen=True)
class Timing:
    """The supervisor's intervals, injectable so tests do not wait for the reference's seconds."""

    restart_delay: float = RESTART_DELAY
    max_retry_delay: float = MAX_RETRY_DELAY
    cancel_grace: float = CANCEL_GRACE
    close_grace: float = CLOSE_GRACE
    cancel_poll: float = CANCEL_POLL


DEFAULT_TIMING = Timing()


class ProcessorChild:
    def __init__(
        self,
        spec: ExternalProcessor,
        argv: list[str],
        env: dict[str, str],
        *,
        timing: Timing = DEFAULT_TIMING,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.spec = spec
        self.argv = argv
        self.env = env
        self.timing = timing
        self._on_change = on_change
        self.state = ChildState.STOPPED
        self.pid: int | None = None
        self.load = 0  # calls holding this child (taken and given back by its StagePool)
        self.starts = 0  # successful handshakes
        self.last_error: str | None = None
        self._next_id = 1  # per producer, kept across restarts as the reference does
        self._inflight: dict[int, asyncio.Future[Response]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._write_lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def name(self) -> str:
        """The reference's processor name, shown as the thread's `proc`: `ext(pid: 1234)`."""
        return f"ext(pid: {self.pid})"

    def can_take(self) -> bool:
        return self.state is ChildState.READY and (self.spec.concurrent is None or self.load < self.spec.concurrent)

    def free_capacity(self) -> int:
        """The reference's selection weight: `concurrent` (64 when unset) minus the requests in flight."""
        return (self.spec.concurrent or 64) - self.load

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"processor-{self.spec.stage}-{self.spec.index}"
            )

    async def close(self) -> None:
        """Stop the child: close its stdin (it exits), kill its process group if it does not; no restart."""
        self._closing = True
        process = self._process
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), self.timing.close_grace)
            except TimeoutError:
                await _kill(process)
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        self._fail_inflight(f"{self.spec.label} closed")
        self._set_state(ChildState.STOPPED)

    async def _supervise(self) -> None:
        try:
            await self._keep_running()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug here must not leave calls waiting for a child that never comes
            log.exception("%s: supervisor failed", self.spec.label)
            self.last_error = f"{self.spec.label}: supervisor failed: {error!r}"
            self._fail_inflight(self.last_error)
            self._set_state(ChildState.STOPPED)

    async def _keep_running(self) -> None:
        failures = 0
        while not self._closing:
            self._set_state(ChildState.STARTING)
            try:
                process = await self._start_process()
            except HandshakeFailed as error:
                failures += 1
                delay = min(self.timing.restart_delay * 2 ** (failures - 1), self.timing.max_retry_delay)
                self.last_error = f"{self.spec.label}: {error}; trying again in {_interval(delay)}"
                log.error("%s", self.last_error)
                self._set_state(ChildState.FAILED)
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.starts += 1
            self._set_state(ChildState.READY)
            log.info("%s ready (pid %d)", self.spec.label, process.pid)
            await self._serve(process)
            self._fail_inflight(f"child process exited: {self.spec.stage}")
            if self._closing:
                break
            self.last_error = f"{self.spec.label} (pid {process.pid}) exited with status {process.returncode}"
            if not self.spec.auto_restart:
                log.error("%s; not restarted (auto_restart = false)", self.last_error)
                self._set_state(ChildState.STOPPED)
                return
            log.warning("%s; restarting in %s", self.last_error, _interval(self.timing.restart_delay))
            self._set_state(ChildState.RESTARTING)
            await asyncio.sleep(self.timing.restart_delay)

    async def _start_process(self) -> asyncio.subprocess.Process:
        """Spawn the child and wait for its handshake; raises HandshakeFailed with the reason in a few words."""
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,  # inherited: the child's logs land in the worker's
                env=self.env,
                start_new_session=True,
                limit=LINE_LIMIT,
            )
        except (OSError, ValueError) as error:  # no such program, not executable, a NUL in an argument
            raise HandshakeFailed(
                f"cannot start {self.argv[0]!r}: {getattr(error, 'strerror', None) or error}"
            ) from error
        self._process, self.pid = process, process.pid
        assert process.stdout is not None
        expected = ready_line(self.spec.stage)
        try:
            line = await asyncio.wait_for(process.stdout.readline(), self.spec.stable_wait)
        except TimeoutError:
            await _kill(process)
            raise HandshakeFailed(
                f"no handshake within {_interval(self.spec.stable_wait)} (expected {expected!r})"
            ) from None
        except ValueError:  # a first line longer than the line limit
            await _kill(process)
            raise HandshakeFailed(f"unexpected first line (longer than {LINE_LIMIT} bytes)") from None
        if not line:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), self.timing.close_grace)  # its own exit status, if it has one
            await _kill(process)
            raise HandshakeFailed(f"exited with status {process.returncode} before its handshake")
        if line.decode(errors="replace").strip() != expected:
            await _kill(process)
            raise HandshakeFailed(f"unexpected first line {shown(line)!r} (expected {expected!r})")
        return process

    async def _serve(self, process: asyncio.subprocess.Process) -> None:
        """Hand each response to its call until the child closes its stdout; then make sure it is gone."""
        assert process.stdout is not None
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:
                log.error("%s: a response line is longer than %d bytes; killing the child", self.spec.label, LINE_LIMIT)
                break
            if not line:
                break
            try:
                response = decode_response(line)
            except ProtocolError as error:
                log.error("%s: failed to unmarshal response: %s", self.spec.label, error)
                continue
            waiter = self._inflight.pop(response.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(response)
        await _kill(process)

    def _fail_inflight(self, message: str) -> None:
        waiters, self._inflight = self._inflight, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_exception(temporary(message))

    def _set_state(self, state: ChildState) -> None:
        self.state = state
        self._on_change()

    # -- calls ------------------------------------------------------------------------------------------------

    async def call(self, task: Any, cancel: CancelToken | None = None) -> Any:
        """Send `task` and return the child's output; its `err_msg` raises the failure it names.

        Cancelled (the coroutine, or `cancel`), the request is stopped before this returns: the child answers
        the cancel request, or it is killed. So a cancelled call's work is never still running afterwards.
        """
        request_id = self._next_id
        self._next_id += 1
        response: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._inflight[request_id] = response
        try:
            if not await self._send({"id": request_id, "task": task}):
                raise temporary(f"child process exited: {self.spec.stage}")
            result = await self._wait(request_id, response, cancel)
        finally:
            self._inflight.pop(request_id, None)
        if result.err_msg is not None:
            raise failure_of(result.err_msg, self.spec.label)
        if result.output is None:
            raise StageFailed(f"{self.spec.label}: output field lost")
        return result.output

    async def _send(self, message: dict[str, Any]) -> bool:
        """Write one request line; False when the child's stdin is gone."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            return False
        async with self._write_lock:
            try:
                process.stdin.write(encode(message))
                await process.stdin.drain()
            except (ConnectionError, RuntimeError):
                return False
        return True

    async def _wait(self, request_id: int, response: asyncio.Future[Response], cancel: CancelToken | None) -> Response:
        try:
            while not response.done():
                await asyncio.wait([response], timeout=None if cancel is None else self.timing.cancel_poll)
                if not response.done() and cancel is not None and cancel.cancelled:
                    await self._stop(request_id, response)
                    _retrieve(response)
                    raise Cancelled(f"{self.spec.stage} cancelled")
            return response.result()
        except asyncio.CancelledError:
            await finish_despite_cancellation(self._stop(request_id, response))
            _retrieve(response)
            raise

    async def _stop(self, request_id: int, response: asyncio.Future[Response]) -> None:
        """Stop request `request_id`: ask the child, and kill it if it has not answered within the grace."""
        if response.done():
            return
        process = self._process
        if await self._send({"id": request_id, "cancel": True}):
            try:
                await asyncio.wait_for(asyncio.shield(response), self.timing.cancel_grace)
                return
            except TimeoutError:
                log.warning(
                    "%s did not stop request %d within %s; killing it",
                    self.spec.label,
                    request_id,
                    _interval(self.timing.cancel_grace),
                )
            except Exception:  # the child exited meanwhile: the request failed, so it is not running
                return
        if process is not None:
            await _kill(process)
        await asyncio.wait([response])


def _retrieve(response: asyncio.Future[Response]) -> None:
    """Mark a stopped request's outcome as seen (it no longer matters, and asyncio would warn about it)."""
    if response.done() and not response.cancelled():
        response.exception()


async def finish_despite_cancellation(work: Any) -> None:
    """Run `work` to its end even if the caller is cancelled again meanwhile (a second pause, a drain)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue
        except Exception:
            break
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: a failure to stop is already logged


async def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's process group (the child and whatever it started) and reap it.

    The child leads its own session, so it cannot leave its group; signalling the group alone also keeps
    asyncio's child watcher the only one to reap it (Popen.kill would poll, and reap, first)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    await process.wait()

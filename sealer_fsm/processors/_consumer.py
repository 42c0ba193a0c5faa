"""The child's side of the protocol: `sealer-fsm processor <stage>` serving one stage over stdin and stdout.

The child places itself (CPUs, cgroup, NUMA node; see `_placement`), prints `<stage> processor ready`, then
runs each request on a worker thread as it arrives and answers each when it is done, in any order, as the
reference's consumer does. Logs go to stderr only. A `{"id": n, "cancel": true}` line stops request n (its
CancelToken is set; the C loops stop between chunks) and the request is answered `cancelled: ...`.

When stdin closes, the parent is gone (killed, or closing the child): the child stops at once, whatever it was
doing, so a task never goes on running beside the copy a restarted worker starts. Every stage writes its files
through temporary names, so stopping anywhere is safe.

`SEALER_FSM_PROCESSOR_TRACE=<file>` appends one JSON line per task start and end (stage, request id, pid,
monotonic time, outcome) to `<file>`: the child's own record of what ran when, shared safely by several children.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from sealer_fsm.processors._placement import PlacementError, place_self
from sealer_fsm.processors._protocol import (
    CANCELLED_PREFIX,
    LINE_LIMIT,
    ProtocolError,
    Request,
    decode_request,
    encode,
    error_message,
    ready_line,
)
from sealer_fsm.proofs import Cancelled, CancelToken

log = logging.getLogger("sealer_fsm.processor")
StageFunction = Callable[[Any, CancelToken], Any]  # as `sealer_fsm.processors.StageFunction`
TRACE_ENV = "SEALER_FSM_PROCESSOR_TRACE"


class _Trace:
    """Appends task start/end records to the file named by SEALER_FSM_PROCESSOR_TRACE (if set)."""

    def __init__(self, stage: str, path: str | None) -> None:
        self._stage = stage
        self._path = path

    def record(self, request_id: int, event: str, **extra: Any) -> None:
        """Append one record; a trace that cannot be written is reported once and dropped, never the task."""
        if self._path is None:
            return
        entry = {"stage": self._stage, "id": request_id, "pid": os.getpid(), "event": event, "at": time.monotonic()}
        line = (json.dumps({**entry, **extra}) + "\n").encode()
        try:
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        except OSError as error:
            log.error("cannot write the trace %s (%s); tracing stops", self._path, error.strerror or error)
            self._path = None


class Consumer:
    def __init__(self, stage: str, function: StageFunction, output: BinaryIO) -> None:
        self.stage = stage
        self._function = function
        self._output = output
        self._tokens: dict[int, CancelToken] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._trace = _Trace(stage, os.environ.get(TRACE_ENV))

    def _write(self, message: dict[str, Any]) -> None:
        """One line to the parent; the event loop is the only writer, so lines never interleave."""
        self._output.write(encode(message))
        self._output.flush()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Answer requests until stdin closes."""
        self._write_line(ready_line(self.stage))
        log.info("%s processor ready (pid %d)", self.stage, os.getpid())
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                log.error("a request line is longer than %d bytes; stopping", LINE_LIMIT)
                return
            if not line:
                return
            try:
                request = decode_request(line)
            except ProtocolError as error:
                log.error("unmarshal request: %s", error)
                continue
            if request.cancel:
                token = self._tokens.get(request.id)
                if token is not None:
                    token.cancel()
                continue
            task = asyncio.get_running_loop().create_task(self._handle(request))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _write_line(self, text: str) -> None:
        self._output.write(text.encode() + b"\n")
        self._output.flush()

    def stop_all(self) -> None:
        for token in self._tokens.values():
            token.cancel()

    async def _handle(self, request: Request) -> None:
        token = self._tokens[request.id] = CancelToken()
        self._trace.record(request.id, "start")
        try:
            output = await asyncio.to_thread(self._function, request.task, token)
            response = {"id": request.id, "err_msg": None, "output": output}
            json.dumps(output)  # an output that is not JSON is this stage's bug: say so instead of dying
        except Cancelled as error:
            response = {"id": request.id, "err_msg": f"{CANCELLED_PREFIX}: {error}", "output": None}
        except Exception as error:
            log.warning("request %d failed: %s", request.id, error_message(error))
            response = {"id": request.id, "err_msg": error_message(error), "output": None}
        finally:
            self._tokens.pop(request.id, None)
        self._trace.record(request.id, "end", ok=response["err_msg"] is None)
        try:
            self._write(response)
        except BrokenPipeError:
            log.error("the parent closed the pipe before request %d was answered", request.id)


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def run_consumer(stage: str, function: StageFunction) -> int:
    """The child's main: place it, serve `stage` with `function` on stdin/stdout, exit when stdin closes."""
    mode = os.fstat(0).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        print(
            f"sealer-fsm processor {stage}: stdin must be a pipe from the worker that starts it",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s {stage}[%(process)d] %(message)s")
    try:
        for note in place_self(os.environ):
            log.info("%s", note)
    except PlacementError as error:
        print(f"sealer-fsm processor {stage}: {error}", file=sys.stderr)
        return 2
    output = sys.stdout.buffer
    sys.stdout = sys.stderr  # the protocol owns stdout: a stray print from stage code must not break it
    consumer = Consumer(stage, function, output)

    async def main() -> None:
        await consumer.serve(await _stdin_reader())
        consumer.stop_all()
        log.info("stdin closed; stopping")
        sys.stderr.flush()
        os._exit(0)  # at once: threads still computing must not outlive the parent's interest in them

    asyncio.run(main())
    return 0

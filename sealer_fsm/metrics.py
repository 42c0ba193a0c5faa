"""Prometheus metrics of one worker, served at `/metrics` by the control server.

Every metric lives in a per-worker CollectorRegistry (never the process-global one), so two workers in one
process, or a test next to a worker, never see each other's numbers. The runtime does not know about any of
this: `WorkerMetrics` is a WorkerListener that reads the public API, and the thread gauges are computed from
`worker.threads()` at scrape time, so they can never drift from what `worker list` shows.

Sector-manager code counts its calls through `ManagerCallMetrics.observe(method, ok, seconds)`; create it on
the registry the worker's metrics will use:

    registry = CollectorRegistry()
    manager_calls = ManagerCallMetrics(registry)      # hand this to the sector manager
    worker = Worker(config, steps, services={"manager": Manager(..., metrics=manager_calls)})
    metrics = WorkerMetrics(worker, registry)         # then start_control_server(worker, metrics=metrics)
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sealer_fsm import __version__
from sealer_fsm.runtime import ThreadState, Worker, WorkerListener

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Steps range from milliseconds (a chain poll) to many hours (PC1 of a 32 GiB sector).
STEP_BUCKETS = (0.01, 0.1, 1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400)
MANAGER_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60)


class ManagerCallMetrics:
    """Counts calls to the sector manager by method, the failed ones apart, and how long they took."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._calls = Counter("sealer_fsm_manager_calls", "Calls to the sector manager.", ["method"], registry=registry)
        self._errors = Counter(
            "sealer_fsm_manager_errors", "Sector-manager calls that failed.", ["method"], registry=registry
        )
        self._seconds = Histogram(
            "sealer_fsm_manager_call_seconds",
            "Duration of sector-manager calls.",
            ["method"],
            buckets=MANAGER_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, ok: bool, seconds: float | None = None) -> None:
        """Record one call of `method` (e.g. "Venus.AllocateSector"); `ok` is False for an error or a refusal."""
        self._calls.labels(method).inc()
        if not ok:
            self._errors.labels(method).inc()
        if seconds is not None:
            self._seconds.labels(method).observe(seconds)


class _ThreadGauges(Collector):
    """Threads by thread state and by task state, read from the worker when scraped."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        threads = self._worker.threads()
        by_thread_state = Tally(info.thread_state.value for info in threads)
        thread_states = GaugeMetricFamily(
            "sealer_fsm_threads", "Sealing threads by thread state.", labels=["thread_state"]
        )
        for thread_state in ThreadState:
            thread_states.add_metric([thread_state.value], by_thread_state[thread_state.value])
        yield thread_states
        by_task_state = Tally((info.plan, info.state) for info in threads if info.state is not None)
        task_states = GaugeMetricFamily(
            "sealer_fsm_thread_tasks", "Sealing threads with a task, by plan and task state.", labels=["plan", "state"]
        )
        for (plan, state), count in sorted(by_task_state.items()):
            task_states.add_metric([plan, state], count)
        yield task_states
        info = GaugeMetricFamily("sealer_fsm_worker", "This worker (always 1).", labels=["name", "version"])
        info.add_metric([self._worker.name, __version__], 1)
        yield info


class _ProcessorGauges(Collector):
    """The processors layer at scrape time: each stage's busy slots and queue, its children, the named locks, and
    what each waiting thread waits for."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stages = self._worker.processors.status()
        busy = GaugeMetricFamily("sealer_fsm_processor_busy", "Calls holding a stage's slot.", labels=["stage"])
        queued = GaugeMetricFamily("sealer_fsm_processor_queued", "Calls waiting for a stage's slot.", labels=["stage"])
        limit = GaugeMetricFamily(
            "sealer_fsm_processor_limit", "A stage's limitation.concurrent (stages with one).", labels=["stage"]
        )
        children = GaugeMetricFamily(
            "sealer_fsm_processor_children", "External processors by stage and state.", labels=["stage", "state"]
        )
        for stage in stages:
            busy.add_metric([stage.stage], stage.limit.busy)
            queued.add_metric([stage.stage], stage.limit.queued)
            if stage.limit.concurrent is not None:
                limit.add_metric([stage.stage], stage.limit.concurrent)
            for state, count in sorted(Tally(child.state for child in stage.children).items()):
                children.add_metric([stage.stage, state], count)
        yield from (busy, queued, limit, children)
        held = GaugeMetricFamily("sealer_fsm_processor_lock_held", "Holders of an ext lock.", labels=["lock"])
        size = GaugeMetricFamily("sealer_fsm_processor_lock_size", "Holders an ext lock allows.", labels=["lock"])
        for lock in self._worker.processors.locks():
            held.add_metric([lock.name], lock.held)
            size.add_metric([lock.name], lock.size)
        yield from (held, size)
        waiting = GaugeMetricFamily(
            "sealer_fsm_thread_waiting_for", "Waiting threads and what they wait for.", labels=["thread", "waiting_for"]
        )
        for info in self._worker.threads():
            if info.thread_state is ThreadState.WAITING:
                waiting.add_metric([str(info.index), info.waiting_for or ""], 1)
        yield waiting


class WorkerMetrics(WorkerListener):
    """All of a worker's metrics; registers itself as the worker's listener."""

    def __init__(self, worker: Worker, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.registry.register(_ThreadGauges(worker))
        self.registry.register(_ProcessorGauges(worker))
        self._step_seconds = Histogram(
            "sealer_fsm_step_duration_seconds",
            "Duration of plan steps, by plan and state.",
            ["plan", "state"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )
        self._step_failures = Counter(
            "sealer_fsm_step_failures",
            "Steps that failed, by failure level (temporary, permanent, critical, abort).",
            ["level"],
            registry=self.registry,
        )
        self._tasks_closed = Counter(
            "sealer_fsm_tasks_closed",
            "Tasks closed, by plan and final state.",
            ["plan", "state"],
            registry=self.registry,
        )
        worker.add_listener(self)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric; call it on the event loop (it reads the worker)."""
        return generate_latest(self.registry)

    def step_finished(self, thread: Any, state: str, seconds: float, level: Any) -> None:
        self._step_seconds.labels(thread.info().plan, state).observe(seconds)
        if level is not None:
            self._step_failures.labels(level.value).inc()

    def task_closed(self, thread: Any, task: Any) -> None:
        self._tasks_closed.labels(task.plan, task.state).inc()

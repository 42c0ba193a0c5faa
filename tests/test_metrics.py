"""Prometheus metrics at /metrics: thread gauges at scrape time, step histograms, failures, manager calls."""

from __future__ import annotations

import http.client
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sealer_fsm.metrics import ManagerCallMetrics
from tests.support.running_worker import worker_process
from tests.test_control_rpc import SETTLED_OPTIONS, settled


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/plain")
    text = response.read().decode()
    connection.close()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_show_threads_steps_and_failures_of_a_settled_worker(tmp_path: Path) -> None:
    with worker_process(tmp_path / "worker", *SETTLED_OPTIONS) as worker:
        worker.wait_for(settled)
        samples = scrape(worker.port)
    assert samples[("sealer_fsm_threads", (("thread_state", "Paused"),))] == 2
    assert samples[("sealer_fsm_threads", (("thread_state", "Running"),))] == 2
    assert samples[("sealer_fsm_threads", (("thread_state", "Waiting"),))] == 0
    assert samples[("sealer_fsm_thread_tasks", (("plan", "sealer"), ("state", "SeedAssigned")))] == 1
    assert samples[("sealer_fsm_thread_tasks", (("plan", "snapup"), ("state", "TreeDBuilt")))] == 1
    assert samples[("sealer_fsm_step_duration_seconds_count", (("plan", "sealer"), ("state", "Empty")))] >= 3
    assert samples[("sealer_fsm_step_failures_total", (("level", "permanent"),))] == 2
    assert samples[("sealer_fsm_worker", (("name", "test-worker"), ("version", "0.1.0")))] == 1


def test_manager_calls_are_counted_by_method_with_errors_apart() -> None:
    registry = CollectorRegistry()
    calls = ManagerCallMetrics(registry)
    calls.observe("Venus.AllocateSector", ok=True, seconds=0.02)
    calls.observe("Venus.AllocateSector", ok=False)
    calls.observe("Venus.SubmitPreCommit", ok=True)
    allocate = {"method": "Venus.AllocateSector"}
    assert registry.get_sample_value("sealer_fsm_manager_calls_total", allocate) == 2
    assert registry.get_sample_value("sealer_fsm_manager_errors_total", allocate) == 1
    assert registry.get_sample_value("sealer_fsm_manager_call_seconds_count", allocate) == 1
    assert registry.get_sample_value("sealer_fsm_manager_errors_total", {"method": "Venus.SubmitPreCommit"}) is None

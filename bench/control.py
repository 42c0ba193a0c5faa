"""Latency of `VenusWorker.WorkerList` on a worker with 1,000 sealing threads (target: p50 under 20 ms), and what
one abusive request costs it: a batch of 18,000 `SealerFsm.Plans` in 1 MiB (refused whole) and the largest batch
accepted.

Starts tests/support/worker_process.py with 1,000 threads walking the shipped plans (one step every
--step-seconds), then times sequential calls from one keep-alive client. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support, when run as a plain script
from sealer_fsm.rpc import DEFAULT_MAX_BATCH
from tests.support.raw_http import post
from tests.support.running_worker import worker_process


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealer-fsm-bench-") as home:
        options = ("--threads", str(args.threads), "--plan", "sealer", "--plan", "snapup")
        with worker_process(Path(home), *options, "--step-seconds", str(args.step_seconds)) as worker:
            worker.wait_for(lambda threads: all(thread["job_state"] for thread in threads), timeout=120)
            with worker.client() as client:
                for _ in range(20):
                    client.call("VenusWorker.WorkerList")
                timings = []
                for _ in range(args.calls):
                    started = time.perf_counter()
                    threads = client.call("VenusWorker.WorkerList")
                    timings.append((time.perf_counter() - started) * 1000)
                info = client.call("SealerFsm.Info")
            batches = [batch_cost(worker.port, count) for count in (18_000, DEFAULT_MAX_BATCH)]
    timings.sort()
    print(f"WorkerList, {len(threads)} threads ({info['thread_states']}), {args.calls} calls:")
    print(
        f"  p50 {percentile(timings, 0.50):.1f} ms  p95 {percentile(timings, 0.95):.1f} ms"
        f"  p99 {percentile(timings, 0.99):.1f} ms  mean {statistics.fmean(timings):.1f} ms  max {timings[-1]:.1f} ms"
    )
    for count, seconds, size, refused in batches:
        outcome = "refused whole" if refused else "answered"
        print(f"a batch of {count} SealerFsm.Plans: {outcome} in {seconds * 1000:.0f} ms, {size / 1024:.0f} KiB answer")


def batch_cost(port: int, count: int) -> tuple[int, float, int, bool]:
    """(requests, seconds, answer bytes, refused) for one batch of `count` SealerFsm.Plans calls."""
    requests = [{"jsonrpc": "2.0", "id": index, "method": "SealerFsm.Plans"} for index in range(count)]
    batch = json.dumps(requests, separators=(",", ":"))  # 18,000 of them fit in the 1 MiB a body may have
    started = time.perf_counter()
    status, answer = post(port, batch)
    seconds = time.perf_counter() - started
    assert status == 200, status
    return count, seconds, len(json.dumps(answer)), isinstance(answer, dict)


if __name__ == "__main__":
    main()

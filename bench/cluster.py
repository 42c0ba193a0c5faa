"""Sectors per minute with 1, 2 and 4 worker processes (2 threads each) sealing 2KiB sectors for one
`sealer-fsm devnet serve`, and the devnet server's latency per method (p50 / p99 over the run).

Each run starts a fresh devnet and its workers, then times the sectors the chain finalizes from the first one to
the `--sectors`-th per worker (start-up is left out). Ratios are against the one-worker run measured in the same
invocation. On a small shared machine the workers compete for the same cores, so the figures say how the
manager copes with more clients more than how a real cluster scales. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support, when run as a plain script
from sealer_fsm.manager.venus import RpcTransport
from tests.support.cluster import DevnetProcess, WorkerProcess, free_port, write_manager_file, write_worker_file


def server_stats(address: str) -> dict[str, Any]:
    async def ask() -> Any:
        transport = RpcTransport(f"http://{address}/rpc/v0", retry_for=0)
        try:
            return await transport.call("SealerFsm.DevnetStats")
        finally:
            await transport.close()

    return dict(asyncio.run(ask()))


def run(workers: int, sectors_per_worker: int, threads: int) -> tuple[float, dict[str, Any]]:
    """(sectors per minute, the server's per-method timings) for one cluster size."""
    with tempfile.TemporaryDirectory(prefix="sealer-fsm-cluster-") as directory:
        root = Path(directory)
        port = free_port()
        devnet = DevnetProcess(write_manager_file(root, port), root / "manager", port)
        devnet.start()
        processes = [
            WorkerProcess(f"w{index}", write_worker_file(root, f"w{index}", port, threads=threads), root / f"w{index}")
            for index in range(workers)
        ]
        try:
            for worker in processes:
                worker.start()
            target = sectors_per_worker * workers
            while devnet.finalized() < 1:
                time.sleep(0.02)
            started, first = time.perf_counter(), devnet.finalized()
            while devnet.finalized() < target:
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            rate = (devnet.finalized() - first) / elapsed * 60
            stats = server_stats(devnet.address)
        finally:
            for worker in processes:
                worker.stop()
            devnet.stop()
    return rate, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sectors", type=int, default=8, help="sectors per worker in each run")
    parser.add_argument("--threads", type=int, default=2, help="sealing threads per worker")
    args = parser.parse_args()
    results = {count: run(count, args.sectors, args.threads) for count in args.workers}
    baseline = results[args.workers[0]][0]
    print(f"2KiB sectors, {args.threads} threads per worker, one devnet serve (this machine; noisy when shared):")
    for count, (rate, _) in results.items():
        print(f"  {count} worker(s): {rate:7.1f} sectors/min  ({rate / baseline:.2f}x {args.workers[0]} worker)")
    largest = args.workers[-1]
    print(f"devnet server latency per method, {largest} workers (ms):")
    for method, timing in results[largest][1].items():
        print(
            f"  {method:28} calls {timing['calls']:6}  p50 {timing['p50_ms']:6.2f}  p99 {timing['p99_ms']:6.2f}"
            f"  max {timing['max_ms']:7.2f}"
        )


if __name__ == "__main__":
    main()

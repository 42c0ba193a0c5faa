"""Commitments throughput: C tree vs hashlib per node, CommP of 512 MiB on one and two cores, vs sha256sum.

Run with `make bench` (or `.venv/bin/python bench/proofs.py`). Prints figures and whether each meets its
target; the exit status is 0 either way, since speed depends on the machine (see docs/proofs.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable

from _report import print_load, verdict

from sealer_fsm import proofs

TREE_BYTES = 16 << 20  # leaves hashed by both the C code and the hashlib baseline
FILE_BYTES = 512 << 20
REPEATS = 5
TARGET_NODES_PER_SECOND = 25e6
TARGET_SHA256SUM_RATIO = 1.5
TARGET_TWO_CORE_SPEEDUP = 1.8


def best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def hashlib_tree_root(padded: bytes) -> bytes:
    """The baseline: one hashlib call per node, level by level, as a pure-Python tree builder does."""
    sha256 = hashlib.sha256
    nodes = [padded[start : start + 32] for start in range(0, len(padded), 32)]
    while len(nodes) > 1:
        parents = []
        for index in range(0, len(nodes), 2):
            digest = sha256(nodes[index] + nodes[index + 1]).digest()
            parents.append(digest[:31] + bytes((digest[31] & 0x3F,)))
        nodes = parents
    return nodes[0]


def bench_tree() -> None:
    data = os.urandom(TREE_BYTES)
    nodes = TREE_BYTES // 32 - 1
    fastest = proofs.backend()
    rates = {}
    for name in proofs.available_backends()[:-1]:  # every C backend this CPU runs, fastest first
        proofs.use_backend(name)
        rates[name] = nodes / best_time(lambda: proofs.tree_root(data, threads=1), repeats=5 if name == fastest else 1)
    proofs.use_backend("best")
    baseline_rate = nodes / best_time(lambda: hashlib_tree_root(data), repeats=1)
    assert hashlib_tree_root(data) == proofs.tree_root(data)
    c_rate = rates[fastest]
    print(f"tree over {TREE_BYTES >> 20} MiB of random leaves ({nodes:,} nodes), one core:")
    meets = f"{verdict(c_rate >= TARGET_NODES_PER_SECOND)} >= {TARGET_NODES_PER_SECOND / 1e6:.0f} M"
    for name, rate in rates.items():
        note = f"  ({meets})" if name == fastest else ""
        print(f"  {f'C ({name}):':<18}{rate / 1e6:6.1f} M nodes/s{note}")
    print(f"  {'hashlib per node:':<18}{baseline_rate / 1e6:6.1f} M nodes/s")
    print(f"  ratio C ({fastest}) / hashlib: {c_rate / baseline_rate:.1f}x")


def bench_commp_file(directory: str) -> None:
    path = os.path.join(directory, "payload.bin")
    with open(path, "wb") as file:
        for _ in range(FILE_BYTES // (16 << 20)):
            file.write(os.urandom(16 << 20))
        os.fsync(file.fileno())  # no writeback competing for the cores while timing
    one = proofs.commp_file(path, threads=1)  # also warms the page cache
    assert proofs.commp_file(path, threads=2) == one
    # Alternate the two so that both see the same machine; the best of several is the least disturbed.
    one_core = two_cores = float("inf")
    for _ in range(REPEATS):
        one_core = min(one_core, best_time(lambda: proofs.commp_file(path, threads=1), repeats=1))
        cpu_before = sum(os.times()[:2])
        wall = best_time(lambda: proofs.commp_file(path, threads=2), repeats=1)
        if wall < two_cores:
            two_cores, two_core_cpu = wall, sum(os.times()[:2]) - cpu_before
    sha256sum = shutil.which("sha256sum")
    piece_mib = proofs.piece_size_for_payload(FILE_BYTES) >> 20
    print(f"CommP of a {FILE_BYTES >> 20} MiB file (piece {piece_mib} MiB):")
    print(f"  one core:  {one_core:6.2f} s  {FILE_BYTES / one_core / 1e6:7.0f} MB/s")
    print(
        f"  two cores: {two_cores:6.2f} s  {FILE_BYTES / two_cores / 1e6:7.0f} MB/s  "
        f"speedup {one_core / two_cores:.2f}x ({verdict(one_core / two_cores >= TARGET_TWO_CORE_SPEEDUP)}"
        f" >= {TARGET_TWO_CORE_SPEEDUP}x)"
    )
    busy = two_core_cpu / two_cores
    print(f"             CPU time {two_core_cpu:.2f} s: {busy:.2f} cores busy on average")
    if sha256sum is None:
        print("  sha256sum not found: no physical reference")
        return
    reference = best_time(lambda: subprocess.run([sha256sum, path], check=True, capture_output=True), repeats=2)
    ratio = one_core / reference
    print(
        f"  sha256sum: {reference:6.2f} s  {FILE_BYTES / reference / 1e6:7.0f} MB/s  "
        f"CommP one core / sha256sum = {ratio:.2f}x ({verdict(ratio <= TARGET_SHA256SUM_RATIO)}"
        f" <= {TARGET_SHA256SUM_RATIO}x)"
    )


def main() -> None:
    print(
        f"backend: {proofs.backend()} (of {', '.join(proofs.available_backends())}), "
        f"cores available: {len(os.sched_getaffinity(0))}"
    )
    print_load("before")
    bench_tree()
    with tempfile.TemporaryDirectory(prefix="sealer-fsm-bench-") as directory:
        bench_commp_file(directory)
    print_load("after")


if __name__ == "__main__":
    main()

"""PC2 and Snap Deals: Poseidon per hash next to the field multiplication rate, PC2 of 8MiB and 512MiB on two
cores with peak RSS, and the snap encoding of 512MiB.

Run with `make bench` (or `.venv/bin/python bench/pc2.py [--sizes 8MiB,512MiB]`). Each PC2 and snap encoding
runs in a child process, so its wall time, CPU time (both cores busy: CPU about twice the wall time) and peak
RSS are its own. The layers are random field elements: PC2's cost does not depend on their values. Prints whether each
figure meets its target; the exit status is 0 either way, since speed depends on the machine (see
docs/proofs.md), and the machine is shared, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sealer_fsm.proofs import SectorShape, field_backends, layer_path, use_field_backend
from sealer_fsm.proofs._poseidon_api import extension
from sealer_fsm.units import parse_size

HASH_TARGETS_US = {2: 8.0, 8: 25.0, 11: 35.0}
PC2_TARGET_SECONDS = {512 << 20: 240.0}
MULTIPLICATIONS = 2_000_000


def verdict(ok: bool) -> str:
    return "meets target" if ok else "BELOW TARGET"


def bench_field() -> None:
    """Per backend: ns per field multiplication, then µs per hash and hashes expressed in multiplications."""
    for name in field_backends():
        use_field_backend(name)
        mul_ns = min(extension().multiplications(MULTIPLICATIONS) for _ in range(3)) / MULTIPLICATIONS * 1e9
        print(f"field {name:9} {mul_ns:6.1f} ns per multiplication ({1e3 / mul_ns:5.1f} M/s), one core")
        for arity, target in HASH_TARGETS_US.items():
            count = 4000 if arity == 2 else 1500
            micros = min(extension().hashes(arity, count) for _ in range(3)) / count * 1e6
            note = f"target <= {target:.0f} µs, {verdict(micros <= target)}" if name == field_backends()[0] else ""
            equivalent = micros * 1e3 / mul_ns
            print(f"  Poseidon arity {arity:2}: {micros:6.1f} µs per hash = {equivalent:5.0f} multiplications  {note}")
    use_field_backend("best")


def write_random_layer(path: Path, size: int) -> None:
    """Random labels as PC1 writes them (the top two bits of every node cleared), written 1 MiB at a time: this
    process stays small, because a child's peak RSS starts from its parent's at fork."""
    with open(path, "wb") as file:
        for _ in range(0, size, 1 << 20):
            data = bytearray(os.urandom(min(1 << 20, size)))
            data[31::32] = bytes(byte & 0x3F for byte in data[31::32])
            file.write(data)


def run_child(code: str) -> tuple[float, float, float]:
    """Runs `code` in a child interpreter; returns its wall seconds, CPU seconds and peak RSS in MiB."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the benchmark child failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def usage(wall: float, cpu: float, rss: float) -> str:
    return f"{wall:7.1f} s wall, {cpu:7.1f} s CPU ({cpu / wall:.2f} cores), peak RSS {rss:6.0f} MiB"


def bench_sector(size: int, work: Path) -> None:
    shape = SectorShape.of(size)
    cache, sealed, staged = work / "cache", work / "sealed", work / "staged"
    cache.mkdir()
    for layer in range(1, shape.layers + 1):
        write_random_layer(layer_path(cache, layer), size)
    label = f"{size >> 20}MiB"
    pc2 = f"precommit_phase2({str(cache)!r}, {str(sealed)!r}, {size}, None)"
    wall, cpu, rss = run_child(f"from sealer_fsm.proofs import precommit_phase2; {pc2}")
    target = PC2_TARGET_SECONDS.get(size)
    note = f"target < {target:.0f} s, {verdict(wall < target)}" if target else ""
    print(f"PC2 {label:7} {usage(wall, cpu, rss)}  {note}")
    write_random_layer(staged, size)
    snap = (
        "from sealer_fsm.proofs import snap_encode_into; "
        f"snap_encode_into({str(sealed)!r}, {str(cache)!r}, {str(staged)!r}, {str(work / 'update')!r}, "
        f"{str(work / 'update-cache')!r}, {size})"
    )
    wall, cpu, rss = run_child(snap)
    print(f"snap encode {label:7} {usage(wall, cpu, rss)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8MiB,512MiB", help="comma-separated sector sizes for PC2 and snap")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    bench_field()
    for text in args.sizes.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-pc2-", dir=os.environ.get("BENCH_DIR")) as work:
            bench_sector(parse_size(text), Path(work))


if __name__ == "__main__":
    main()

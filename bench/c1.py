"""C1 and its verification on sectors sealed for real (8MiB and 512MiB), with TreeD stored whole.

Run with `make bench` (or `.venv/bin/python bench/c1.py [--sizes 8MiB,512MiB] [--work DIR]`). Each sector is
sealed once (TreeD, PC1 and PC2 of random data; `--work DIR` keeps it for the next run, the 512MiB seal takes
minutes), then each measured step runs in a child process so that its peak RSS is its own; its wall and CPU
seconds are those of the step alone, timed inside the child:

* TreeD stored whole (`build_tree_d`), against the baseline of hashing the same staged file for its root only
  (`tree_root_of_file`, what the tree_d step did before it stored the tree);
* C1 (`run_c1`: open every path, build, verify and write the JSON), against the PC2 of the same sector;
* the verification alone (`load_c1_output` and `verify_porep`), against C1.

Targets (ours: the issue sets none): C1 of 512MiB under 10 s and its verification under 2 s, both on one core.
The machine is shared, so the load average is printed and wall times may vary; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import print_load, verdict

from sealer_fsm.proofs import fr32_pad, unpadded_size
from sealer_fsm.units import format_size, parse_size

TARGETS = {512 << 20: (10.0, 2.0)}  # sector size: (C1 seconds, verification seconds)
TICKET, SEED = "33" * 32, "44" * 32


MEASURED = """
import json, sys, time
import sealer_fsm.proofs  # imported before the clock starts: the step alone is timed
started, cpu = time.perf_counter(), time.process_time()
{work}
print(json.dumps({{"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu, "result": result}}))
"""


def run_child(work: str) -> tuple[float, float, float, object]:
    """Runs `work` (which sets `result`) in a child interpreter; returns the wall and CPU seconds of `work` alone
    (not the interpreter's start), the child's peak RSS in MiB and `result`."""
    child = subprocess.Popen([sys.executable, "-c", MEASURED.format(work=work)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"the benchmark child failed with status {status}")
    report = json.loads(output)
    return report["wall"], report["cpu"], usage.ru_maxrss / 1024, report["result"]


def usage(wall: float, cpu: float, rss: float) -> str:
    return f"{wall:7.3f} s wall, {cpu:7.3f} s CPU, peak RSS {rss:6.0f} MiB"


def stage_random(path: Path, size: int) -> None:
    """Random deal data, Fr32-padded as AddPiece stages it, written 127 KiB at a time (this process stays small:
    a child's peak RSS starts from its parent's)."""
    block = 127 << 10
    with open(path, "wb") as file:
        remaining = unpadded_size(size)
        while remaining:
            chunk = min(block, remaining)
            file.write(fr32_pad(os.urandom(chunk)))
            remaining -= chunk


def seal(folder: Path, size: int) -> float:
    """Seal a sector of random data into `folder` unless it is there already; returns PC2's seconds (or the
    recorded ones)."""
    record = folder / "bench.json"
    if record.is_file():
        return float(json.loads(record.read_text())["pc2_seconds"])
    folder.mkdir(parents=True, exist_ok=True)
    stage_random(folder / "unsealed", size)
    wall, cpu, rss, result = run_child(
        f"""
from sealer_fsm.proofs import build_tree_d, default_proof_type, precommit_phase2, seal_pre_commit_phase1
folder = {str(folder)!r}
comm_d = build_tree_d(folder + "/cache", {size}, folder + "/unsealed")
pc1 = seal_pre_commit_phase1(folder + "/cache", miner=1000, sector_number=1, ticket=bytes.fromhex({TICKET!r}),
                             comm_d=comm_d, proof_type=default_proof_type({size}))
pc2_started = time.perf_counter()
out = precommit_phase2(folder + "/cache", folder + "/sealed", {size}, folder + "/unsealed")
result = {{"comm_d": comm_d.hex(), "comm_r": out.comm_r.hex(), "proof_type": pc1.proof_type,
          "pc2_seconds": time.perf_counter() - pc2_started}}
"""
    )
    record.write_text(json.dumps(result))
    print(f"  sealed (TreeD, PC1, PC2): {usage(wall, cpu, rss)}")
    assert isinstance(result, dict)
    return float(result["pc2_seconds"])


def bench_sector(size: int, folder: Path) -> None:
    label = format_size(size)
    print(f"{label}:")
    pc2_seconds = seal(folder, size)
    inputs = json.loads((folder / "bench.json").read_text())
    staged = str(folder / "unsealed")

    hashed = run_child(
        f"from sealer_fsm.proofs import tree_root_of_file\nresult = tree_root_of_file({staged!r}, threads=1).hex()"
    )
    stored = run_child(
        "from sealer_fsm.proofs import build_tree_d\n"
        f"result = build_tree_d({str(folder / 'tree-d')!r}, {size}, {staged!r}, threads=1).hex()"
    )
    print(f"  root only (baseline), one core: {usage(*hashed[:3])}")
    print(f"  TreeD stored whole,   one core: {usage(*stored[:3])}  ratio to the baseline {stored[0] / hashed[0]:.2f}")

    prove = run_child(
        f"""
from sealer_fsm.proofs import CommitInputs, run_c1
inputs = CommitInputs(1000, 1, bytes.fromhex({TICKET!r}), bytes.fromhex({SEED!r}), bytes.fromhex({inputs["comm_d"]!r}),
                      bytes.fromhex({inputs["comm_r"]!r}), {inputs["proof_type"]})
run = run_c1({str(folder / "cache")!r}, {str(folder / "sealed")!r}, inputs)
result = run.path.stat().st_size
"""
    )
    verify = run_child(
        f"""
from sealer_fsm.proofs import load_c1_output, verify_porep
output = load_c1_output({str(folder / "cache" / "c1-output.json")!r})
verdict = verify_porep(output, comm_d=output.comm_d, comm_r=output.comm_r, replica_id=output.replica_id,
                       seed=output.seed)
assert verdict.valid, verdict.reason
result = verdict.challenges
"""
    )
    c1_target, verify_target = TARGETS.get(size, (None, None))
    c1_note = f"  target < {c1_target:.0f} s, {verdict(prove[0] < c1_target)}" if c1_target else ""
    verify_note = f"  target < {verify_target:.0f} s, {verdict(verify[0] < verify_target)}" if verify_target else ""
    print(f"  C1 (JSON of {int(str(prove[3])) / 1024:.0f} KiB): {usage(*prove[:3])}{c1_note}")
    print(f"    ratio C1 / PC2 of the same sector ({pc2_seconds:.1f} s): {prove[0] / pc2_seconds:.4f}")
    print(f"  verification: {usage(*verify[:3])}{verify_note}  ratio to C1 {verify[0] / prove[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8MiB,512MiB", help="comma-separated sector sizes")
    parser.add_argument("--work", type=Path, help="keep the sealed sectors here for the next run")
    args = parser.parse_args()
    print_load("before")
    with tempfile.TemporaryDirectory(prefix="bench-c1-") as scratch:
        work = args.work or Path(scratch)
        for text in args.sizes.split(","):
            size = parse_size(text)
            bench_sector(size, work / format_size(size))
    print_load("after")


if __name__ == "__main__":
    main()

"""kill -9 in the middle of PC2 of an 8MiB sector, then a restart: the same CommR and a byte-identical replica."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sealer_fsm.proofs import layer_path, precommit_phase2

SIZE = 8 << 20
POLL_SECONDS = 0.05
PATIENCE_SECONDS = 240


def write_layers(cache: Path) -> None:
    """Two deterministic 8MiB layers of field elements (PC2 does not care where labels come from)."""
    cache.mkdir(parents=True)
    for layer in (1, 2):
        data = bytearray()
        seed = layer.to_bytes(4, "little")
        counter = 0
        while len(data) < SIZE:
            data += hashlib.sha512(seed + counter.to_bytes(8, "little")).digest()
            counter += 1
        data[31::32] = bytes(byte & 0x3F for byte in data[31::32])
        layer_path(cache, layer).write_bytes(bytes(data))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(POLL_SECONDS)


def test_kill_during_tree_r_last_then_restart(tmp_path: Path) -> None:
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    write_layers(clean / "cache")
    shutil.copytree(clean / "cache", killed / "cache")

    script = (
        "import sys; from sealer_fsm.proofs import precommit_phase2; "
        f"precommit_phase2(sys.argv[1], sys.argv[2], {SIZE}, None, threads=2)"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(killed / "cache"), str(killed / "sealed")])
    tree_c = killed / "cache" / "sc-02-data-tree-c.dat"
    partial_tree = killed / "cache" / "sc-02-data-tree-r-last.dat.tmp"
    try:
        wait_for(lambda: tree_c.exists() and partial_tree.exists() and partial_tree.stat().st_size > 0, "TreeR-last")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (killed / "sealed").exists() and not (killed / "cache" / "p_aux").exists()
    tree_c_written = tree_c.stat().st_mtime_ns

    restarted = precommit_phase2(killed / "cache", killed / "sealed", SIZE, None, threads=2)
    expected = precommit_phase2(clean / "cache", clean / "sealed", SIZE, None, threads=2)

    assert restarted == expected
    assert (killed / "sealed").read_bytes() == (clean / "sealed").read_bytes()
    for name in ("sc-02-data-tree-c.dat", "sc-02-data-tree-r-last.dat", "p_aux"):
        assert (killed / "cache" / name).read_bytes() == (clean / "cache" / name).read_bytes()
    assert tree_c.stat().st_mtime_ns == tree_c_written  # whole before the kill: kept, not rebuilt
    assert not list((killed / "cache").glob("*.tmp")) and not list(killed.glob("*.tmp"))

"""Shared fixtures: paths to the shipped plans and a builder for small machine files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def machine_file(tmp_path: Path):
    """Write a machine file with the given thread plans and sealing overrides; returns its path."""

    def write(plans: list[str], sealing: str = "", extra: str = "") -> Path:
        defaults = [
            line
            for line in ('seal_interval = "0s"', 'recover_interval = "0s"', 'rpc_polling_interval = "0s"')
            if line.split(" =")[0] not in sealing  # `sealing` may override a default
        ]
        lines = ["[worker]", 'name = "test"', 'drain_timeout = "2s"', "[sealing]", *defaults, sealing]
        for index, plan in enumerate(plans):
            lines += ["[[sealing_thread]]", f'location = "t{index}"', f'plan = "{plan}"']
        lines += ["[[attached]]", 'name = "store"', 'location = "store"']  # a worker needs one persist store
        path = tmp_path / "machine.toml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    return write


@pytest.fixture(params=["avx2", "mulx-adx", "portable"])
def field_backend(request: pytest.FixtureRequest):
    """Runs a test once per Poseidon field multiplication this CPU has (skips the others)."""
    from sealer_fsm.proofs import field_backends, use_field_backend

    if request.param not in field_backends():
        pytest.skip(f"field backend {request.param} is not available on this CPU")
    use_field_backend(request.param)
    try:
        yield request.param
    finally:
        use_field_backend("best")


@pytest.fixture(scope="session", autouse=True)
def parent_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test (and every process a test starts) keeps its SDR parent caches in one temporary folder, made
    once per session, instead of the reference's /var/tmp/filecoin-parents."""
    folder = tmp_path_factory.mktemp("parent-cache")
    os.environ["FIL_PROOFS_PARENT_CACHE"] = str(folder)
    return folder

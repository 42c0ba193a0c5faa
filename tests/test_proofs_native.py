"""The C backends against the Python reference, thread counts, streaming files, and the fallback path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealer_fsm import proofs
from sealer_fsm.proofs import _reference

pytestmark = pytest.mark.skipif(not proofs.native_available(), reason="the C extension is not built")

NATIVE_BACKENDS = [name for name in proofs.available_backends() if name != "python"]
ONE_GIB_ZERO_ROOT = "ccc3c012f5b05e811a2bbfdd0f6833b84275b47bf229c0052a82484f3c1a5b3d"


@contextmanager
def running_on(backend: str) -> Iterator[None]:
    proofs.use_backend(backend)
    try:
        yield
    finally:
        proofs.use_backend("best")


@pytest.fixture(params=NATIVE_BACKENDS)
def native_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with running_on(request.param):
        yield request.param


def _cpu_flags() -> set[str]:
    with open("/proc/cpuinfo") as cpuinfo:
        return next((set(line.split()[2:]) for line in cpuinfo if line.startswith("flags")), set())


def test_the_c_backends_match_what_the_cpu_reports() -> None:
    flags = _cpu_flags()
    expected = {"portable"}
    if "sha_ni" in flags:
        expected.add("sha-ni")
    if {"avx512f", "avx512bw"} <= flags:
        expected.add("avx512")
    assert set(NATIVE_BACKENDS) == expected


def test_the_fastest_backend_runs_by_default() -> None:
    assert proofs.backend() == proofs.available_backends()[0]
    assert proofs.available_backends()[-2:] == ("portable", "python")


@pytest.mark.parametrize("backend", [*NATIVE_BACKENDS, "python"])
def test_use_backend_switches_and_reports(backend: str) -> None:
    with running_on(backend):
        assert proofs.backend() == backend


def test_use_backend_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown proofs backend 'openssl'"):
        proofs.use_backend("openssl")


_payloads = st.integers(0, 40_000).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
@settings(max_examples=30, deadline=None)
@given(data=_payloads)
def test_commp_matches_the_reference(backend: str, data: bytes) -> None:
    piece_size = proofs.piece_size_for_payload(len(data))
    padded = _reference.fr32_pad(data.ljust(proofs.unpadded_size(piece_size), b"\0"))
    with running_on(backend):
        assert proofs.commp_bytes(data).comm == _reference.tree_root(padded)


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
@settings(max_examples=30, deadline=None)
@given(data=st.integers(0, 12).flatmap(lambda k: st.binary(min_size=32 << k, max_size=32 << k)))
def test_tree_root_matches_the_reference(backend: str, data: bytes) -> None:
    with running_on(backend):
        assert proofs.tree_root(data) == _reference.tree_root(data)


@pytest.mark.parametrize("backend", NATIVE_BACKENDS)
@settings(max_examples=30, deadline=None)
@given(blocks=st.integers(0, 40), seed=st.binary(min_size=16, max_size=16))
def test_fr32_matches_the_reference(backend: str, blocks: int, seed: bytes) -> None:
    data = (seed * (127 * blocks // 16 + 1))[: 127 * blocks]
    padded = (seed[::-1] * (8 * blocks + 1))[: 128 * blocks]
    with running_on(backend):
        assert proofs.fr32_pad(data) == _reference.fr32_pad(data)
        assert proofs.fr32_unpad(padded) == _reference.fr32_unpad(padded)


@pytest.mark.parametrize("length", [1, 1_040_383, 1_040_384, 1_040_385, 3_000_001])
def test_results_do_not_depend_on_thread_count_or_source(native_backend: str, tmp_path, length: int) -> None:
    """Lengths around one 1 MiB work part (1,040,384 payload bytes), and a piece of several parts."""
    data = os.urandom(length)
    path = tmp_path / "payload"
    path.write_bytes(data)
    expected = proofs.commp_bytes(data, threads=1)
    assert proofs.commp_bytes(data, threads=3) == expected
    assert proofs.commp_file(path, threads=1) == expected
    assert proofs.commp_file(path, threads=2) == expected


def test_large_tree_root_matches_the_reference_chunk_by_chunk(native_backend: str, tmp_path) -> None:
    """4 MiB: several work parts whose roots the C folds, compared with the level-by-level reference."""
    data = os.urandom(4 << 20)
    path = tmp_path / "staged"
    path.write_bytes(data)
    assert proofs.tree_root_of_file(path, threads=2) == proofs.tree_root(data, threads=1)
    assert proofs.tree_root(data) == _reference.tree_root(data)


def test_c_refuses_bad_chunk_arguments() -> None:
    from sealer_fsm.proofs import _native

    flag = bytearray(1)
    with pytest.raises(ValueError, match="power of two of at least 128 bytes, got 192"):
        _native.subtree_root_of_buffer(bytes(200), 0, 192, True, 1, flag)
    with pytest.raises(ValueError, match="threads must be between 1 and 256, got 0"):
        _native.subtree_root_of_buffer(bytes(200), 0, 128, True, 0, flag)
    with pytest.raises(ValueError, match="cancel flag must be a buffer of at least one byte"):
        _native.subtree_root_of_buffer(bytes(200), 0, 128, True, 1, bytearray())
    with pytest.raises(OSError):
        _native.subtree_root_of_fd(-1, 100, 0, 128, True, 1, flag)


def test_a_sparse_1gib_file_is_hashed_in_bounded_memory(tmp_path) -> None:
    """Peak RSS growth while streaming 1 GiB stays far below the file size (a memory bound, not timing)."""
    path = tmp_path / "sector"
    with open(path, "wb") as file:
        file.truncate(1 << 30)
    script = textwrap.dedent(
        f"""
        import resource
        from sealer_fsm.proofs import tree_root_of_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        root = tree_root_of_file({str(path)!r}, threads=2)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(root.hex(), (after - before) * 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    root, growth = result.stdout.split()
    assert root == ONE_GIB_ZERO_ROOT
    assert int(growth) < 64 << 20


def test_without_the_extension_python_takes_over_with_one_warning() -> None:
    script = textwrap.dedent(
        """
        import sys, warnings
        sys.modules["sealer_fsm.proofs._native"] = None  # as if the extension had not been built
        from sealer_fsm import proofs
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = proofs.commp_bytes(bytes(1024)).cid
            second = proofs.commp_bytes(bytes(127)).cid
        print(proofs.native_available(), proofs.backend(), len(caught), first, second)
        print(caught[0].message)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    summary, message = result.stdout.splitlines()
    assert summary.split() == [
        "False",
        "python",
        "1",
        "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy",
        "baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy",
    ]
    assert "C extension is not built" in message

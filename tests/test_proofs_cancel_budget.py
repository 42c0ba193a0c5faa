"""Long hashing stops when its step is cancelled, and every caller shares one budget of hashing threads."""

from __future__ import annotations

import threading
import time

import pytest

from sealer_fsm import proofs
from sealer_fsm.proofs._budget import MAX_THREADS, ThreadBudget, usable_cores


def test_a_set_token_stops_tree_hashing_before_the_first_chunk(tmp_path) -> None:
    path = tmp_path / "sector"
    with open(path, "wb") as file:
        file.truncate(64 << 20)
    token = proofs.CancelToken()
    token.cancel()
    with pytest.raises(proofs.Cancelled):
        proofs.tree_root_of_file(path, cancel=token)
    with pytest.raises(proofs.Cancelled):
        proofs.commp_bytes(bytes(1 << 20), cancel=token)


def test_the_c_workers_poll_the_flag_between_parts(tmp_path) -> None:
    """A chunk handed to C with its token already set stops before hashing any part (OSError(ECANCELED) in C,
    Cancelled in Python); the same chunk with a clear token hashes."""
    from sealer_fsm.proofs import _backend

    path = tmp_path / "part"
    path.write_bytes(b"\1" * (4 << 20))
    token = proofs.CancelToken()
    with open(path, "rb") as file:
        root = _backend.subtree_root_of_fd(file.fileno(), 4 << 20, 0, 4 << 20, False, 2, token)
        token.cancel()
        with pytest.raises(proofs.Cancelled):
            _backend.subtree_root_of_fd(file.fileno(), 4 << 20, 0, 4 << 20, False, 2, token)
    assert root == proofs.tree_root(path.read_bytes())


def test_a_token_set_while_a_file_is_hashed_stops_it_between_chunks(tmp_path) -> None:
    """The token is set from another thread during a 1 GiB hash; the call raises Cancelled whatever the timing,
    because the flag is checked before every chunk (and, in C, every part) and the file has 16 chunks."""
    path = tmp_path / "sector"
    with open(path, "wb") as file:
        file.write(b"\1" * (1 << 20))  # real data first, so the parts are hashed, not taken from the zero table
        file.truncate(1 << 30)
    token = proofs.CancelToken()
    started = threading.Event()

    def progress(done: int, total: int) -> None:
        started.set()

    setter = threading.Thread(target=lambda: (started.wait(), token.cancel()))
    setter.start()
    # One chunk per call is 64 MiB: a progress callback after the first chunk lets the setter in.
    with pytest.raises(proofs.Cancelled):
        proofs.tree_root_of_file(path, threads=1, progress=progress, cancel=token)
    setter.join()
    assert token.cancelled


def test_the_budget_lends_at_most_its_total_and_waits_for_a_thread() -> None:
    budget = ThreadBudget(3)
    with budget.threads() as first:
        assert first == 3
        got: list[int] = []
        waiter = threading.Thread(target=lambda: got.append(_borrow(budget, 2)))
        waiter.start()
        time.sleep(0.05)  # not a timing assertion: only gives the waiter a chance to (wrongly) get threads
        assert got == []
    waiter.join(5)
    assert got == [2]


def _borrow(budget: ThreadBudget, wanted: int) -> int:
    with budget.threads(wanted) as granted:
        return granted


def test_a_waiting_borrower_gives_up_when_cancelled() -> None:
    budget = ThreadBudget(1)
    token = proofs.CancelToken()
    with budget.threads():
        token.cancel()
        with pytest.raises(proofs.Cancelled):
            _borrow_cancellable(budget, token)


def _borrow_cancellable(budget: ThreadBudget, token: proofs.CancelToken) -> int:
    with budget.threads(1, token) as granted:
        return granted


def test_the_budget_is_capped_at_what_the_c_code_accepts() -> None:
    assert 1 <= usable_cores() <= MAX_THREADS
    with pytest.raises(ValueError, match="from 1 to 256"):
        ThreadBudget(MAX_THREADS + 1)
    with pytest.raises(ValueError, match="positive integer"):
        _borrow(ThreadBudget(2), 0)


def test_a_384_core_host_hashes_with_the_c_maximum(monkeypatch) -> None:
    """A dual EPYC shows 384 CPUs; the budget, not the C code, caps them, so TreeD still runs."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(384)))
    assert usable_cores() == MAX_THREADS
    budget = ThreadBudget()
    assert budget.total == MAX_THREADS
    with budget.threads() as granted:
        assert proofs.tree_root(bytes(1 << 16), threads=granted) == proofs.zero_commitment(1 << 16)

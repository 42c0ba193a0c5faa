"""Which implementation does the hashing: the C extension (SHA-NI, AVX-512 or portable C) or Python.

The C extension is built by the package's own build; when it is missing (an unusual platform, a source tree
that was never built) everything still works on the Python reference, about twenty times slower, and a
warning says so once per process.
"""

from __future__ import annotations

import errno
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from sealer_fsm.proofs import _reference
from sealer_fsm.proofs._cancel import Cancelled, CancelToken, flag_of

try:
    from sealer_fsm.proofs import _native
except ImportError:  # the extension was not built: fall back to the reference, with a warning on first use
    _native = None  # type: ignore[assignment]  # the checks below read None as "not built"

BACKENDS = ("sha-ni", "avx512", "portable", "python")
_NATIVE_CHUNK = 64 << 20  # padded bytes per call into C; it splits them over its threads
_PYTHON_CHUNK = 1 << 20  # padded bytes per call into the reference; bounds its list of nodes

_state = {"python": False, "warned": False}


def native_available() -> bool:
    """Whether the C extension was built and imports on this machine."""
    return _native is not None


def available_backends() -> tuple[str, ...]:
    """The backends this machine can run, fastest first ("python" always last)."""
    return (*(_native.available() if _native is not None else ()), "python")


def backend() -> str:
    """The backend hashing now: "sha-ni" (x86 SHA extensions), "avx512" (16 nodes per 512-bit vector),
    "portable" (plain C) or "python" (hashlib)."""
    if _native is None or _state["python"]:
        return "python"
    return _native.current()


def use_backend(name: str = "best") -> None:
    """Force one backend by name, or go back to the fastest one with "best".

    Meant for benchmarks and cross-checks; ValueError when this machine cannot run the one asked for.
    """
    if name not in (*BACKENDS, "best"):
        raise ValueError(f"unknown proofs backend {name!r} (use one of {', '.join(BACKENDS)}, best)")
    if name not in (*available_backends(), "best"):
        raise ValueError(
            f"proofs backend {name!r} is not available here (use one of {', '.join(available_backends())})"
        )
    _state["python"] = name == "python"
    if _native is not None:
        _native.select(_native.available()[0] if name in ("best", "python") else name)


def chunk_size() -> int:
    """Padded bytes to hand the backend per call: large for C (threads), small for Python (memory)."""
    return _PYTHON_CHUNK if backend() == "python" else _NATIVE_CHUNK


def fr32_pad(data: bytes) -> bytes:
    return _reference.fr32_pad(data) if _python() else _native.fr32_pad(data)


def fr32_unpad(data: bytes) -> bytes:
    return _reference.fr32_unpad(data) if _python() else _native.fr32_unpad(data)


def subtree_root_of_buffer(
    data: bytes | bytearray, offset: int, padded_len: int, fr32: bool, threads: int, cancel: CancelToken | None = None
) -> bytes:
    if _python():
        return _reference.subtree_root_of_buffer(data, offset, padded_len, fr32)
    with _cancellable():
        return _native.subtree_root_of_buffer(data, offset, padded_len, fr32, threads, flag_of(cancel))


def subtree_root_of_fd(
    fd: int, data_end: int, offset: int, padded_len: int, fr32: bool, threads: int, cancel: CancelToken | None = None
) -> bytes:
    if _python():
        return _reference.subtree_root_of_fd(fd, data_end, offset, padded_len, fr32)
    with _cancellable():
        return _native.subtree_root_of_fd(fd, data_end, offset, padded_len, fr32, threads, flag_of(cancel))


def hash_level(children: memoryview, parents: memoryview, threads: int, cancel: CancelToken | None = None) -> None:
    """Fill `parents` with the row of a binary tree above `children` (twice its length)."""
    if _python():
        if cancel is not None:
            cancel.check("hashing")
        parents[:] = _reference.hash_level(children)
        return
    with _cancellable():
        _native.hash_level(children, parents, threads, flag_of(cancel))


@contextmanager
def _cancellable() -> Iterator[None]:
    """Turns the C code's OSError(ECANCELED) into Cancelled."""
    try:
        yield
    except OSError as error:
        if error.errno == errno.ECANCELED:
            raise Cancelled("hashing cancelled") from None
        raise


def _python() -> bool:
    if _native is not None:
        return _state["python"]
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(
            "sealer_fsm.proofs: the C extension is not built; hashing in pure Python (about 20x slower)",
            RuntimeWarning,
            stacklevel=3,
        )
    return True

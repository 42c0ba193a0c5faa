"""Building Poseidon base trees into files through the C extension, and the files' all-or-nothing writing.

Every output is written under a temporary name (`<name>.tmp`), flushed to disk and renamed when whole, so a
file under its real name is always complete: a PC2 or snap encoding killed at any instant leaves only `.tmp`
files, which the next run overwrites. A failure inside C comes back as one sentence naming the file at fault.
"""

from __future__ import annotations

import enum
import errno
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sealer_fsm.proofs._cancel import Cancelled, CancelToken, flag_of
from sealer_fsm.proofs._layout import NODE_SIZE, SectorShape
from sealer_fsm.proofs._poseidon_api import extension, poseidon


class LeafKind(enum.IntEnum):
    """How a base tree's leaves come from its inputs (leaf_kind in _trees.h)."""

    COLUMNS = 0  # Poseidon over the labels of every layer (TreeC)
    ENCODE = 1  # data + key, also written as the replica (TreeR-last in PC2)
    SNAP_ENCODE = 2  # key + data·rho, also written as the new replica (TreeR-last in Snap Deals)
    FILE = 3  # the input's nodes as they are (a TreeR-last rebuilt from a replica)


class TreeInputError(ValueError):
    """An input file is missing, short, or holds something that is not a field element: redoing won't help."""


@dataclass
class TreeRequest:
    """One base tree: where its leaves come from and where its rows and replica nodes go."""

    kind: LeafKind
    inputs: Sequence[Path | None]  # None reads as zeros (a committed-capacity sector's data)
    leaves: int
    node_offset: int
    first_stored_row: int
    replica_fd: int = -1
    rhos: bytes = b""
    rho_shift: int = 0


def check_input(path: Path, size: int, what: str) -> None:
    """A missing or wrongly sized input is refused before any work, naming the file."""
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise TreeInputError(f"{what} {path} is missing") from None
    if actual != size:
        raise TreeInputError(f"{what} {path} is {actual} bytes; expected {size} bytes")


def build_base_tree(request: TreeRequest, tree_fd: int, threads: int, cancel: CancelToken | None) -> bytes:
    """Builds one base tree; returns its root. Inputs are opened here and named in any failure."""
    with ExitStack() as stack:
        fds = []
        for path in request.inputs:
            if path is None:
                fds.append(-1)
                continue
            file = stack.enter_context(open(path, "rb"))
            fds.append(file.fileno())
        outcome = _cancellable(
            int(request.kind),
            tuple(fds),
            request.replica_fd,
            tree_fd,
            request.leaves,
            request.node_offset,
            request.first_stored_row,
            threads,
            flag_of(cancel),
            request.rhos,
            request.rho_shift,
        )
    if isinstance(outcome, bytes):
        return outcome
    raise _failure(outcome, request.inputs)


def _cancellable(*arguments: object) -> bytes | tuple[str, int, int, int]:
    """The C call; its OSError(ECANCELED) becomes Cancelled."""
    try:
        outcome: bytes | tuple[str, int, int, int] = extension().build_tree(*arguments)
    except OSError as error:
        if error.errno == errno.ECANCELED:
            raise Cancelled("tree building cancelled") from None
        raise
    return outcome


def _failure(outcome: tuple[str, int, int, int], inputs: Sequence[Path | None]) -> Exception:
    reason, error_number, index, node = outcome
    name = {-1: "the replica being written", -2: "the tree being written"}.get(
        index, str(inputs[index]) if 0 <= index < len(inputs) else "an input"
    )
    if reason == "io":
        return OSError(error_number, f"{os.strerror(error_number)} ({name}, node {node})")
    if reason == "short":
        return TreeInputError(f"{name} ends at node {node}, before the sector does")
    return TreeInputError(f"{name}: node {node} is not a BLS12-381 field element (a corrupt or foreign file)")


def compound_root(roots: Sequence[bytes], shape: SectorShape) -> bytes:
    """The tree root over its base-tree roots: one sub-tree node per `sub_arity` roots, then the top node."""
    if shape.base_trees == 1:
        return roots[0]
    sub_roots = [poseidon(list(roots[i : i + shape.sub_arity])) for i in range(0, len(roots), shape.sub_arity)]
    return sub_roots[0] if shape.top_arity == 0 else poseidon(sub_roots)


def temporary(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


@contextmanager
def written_whole(paths: Sequence[Path]) -> Iterator[list[int]]:
    """Open `<path>.tmp` for each path and yield their descriptors; on success flush them to disk and rename
    them to their real names in order, on failure remove them. Nothing is ever half-written under a real name."""
    temporaries = [temporary(path) for path in paths]
    try:
        with ExitStack() as stack:
            files = []
            for path in temporaries:
                path.parent.mkdir(parents=True, exist_ok=True)
                files.append(stack.enter_context(open(path, "wb")))
            yield [file.fileno() for file in files]
            for file in files:
                file.flush()
                os.fsync(file.fileno())
    except BaseException:
        for path in temporaries:
            path.unlink(missing_ok=True)
        raise
    for path, real in zip(temporaries, paths, strict=True):
        path.replace(real)


def last_node(path: Path) -> bytes:
    """A stored tree's root: its file ends with it."""
    with open(path, "rb") as file:
        file.seek(-NODE_SIZE, os.SEEK_END)
        return file.read(NODE_SIZE)


def whole(path: Path, size: int) -> bool:
    """Whether a file exists under its real name with its full size (real names are only given to whole files)."""
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def claim_outputs(marker: Path, identity: Mapping[str, object], outputs: Sequence[Path]) -> None:
    """Make `outputs` this job's: if `marker` records another job (or none), remove them before any is built.

    Whole files are kept across runs only when they were built for the same inputs: a PC2 run again after a
    new PC1 (a new ticket, new layers) must not take the old trees for its own.
    """
    try:
        same = json.loads(marker.read_text()) == identity
    except (FileNotFoundError, ValueError):
        same = False
    if same:
        return
    for path in outputs:
        path.unlink(missing_ok=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    with written_whole([marker]) as (fd,):
        os.write(fd, json.dumps(identity, sort_keys=True).encode())

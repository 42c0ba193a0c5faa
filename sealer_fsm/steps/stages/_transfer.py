"""The transfer stage: copy (or link) files and directories between a thread's location and persist stores.

Semantics of the reference's `TransferProcessor` (`vc-processors/src/builtin/processors/transfer`): every path
is absolute, the source must exist, an existing destination of the other kind (file vs directory) is refused,
`opt.allow_link` makes a symlink instead of a copy; `opt.keep` (ours) copies only the named files of a directory.
Copies replace the destination through a temporary name, so a
transfer cut short by a crash leaves the old destination or the new one, never part of one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sealer_fsm.processors.tasks import read_field
from sealer_fsm.proofs import CancelToken
from sealer_fsm.runtime import Permanent
from sealer_fsm.steps._files import copy_file_atomically, copy_tree_atomically, file_errors, remove_path


def transfer(task: Any, cancel: CancelToken) -> bool:
    """Carry out every route of a transfer task in order; returns True (the reference's output)."""
    for index, route in enumerate(read_field(task, "routes", list)):
        cancel.check("transfer")
        source = _path(read_field(route, "src", dict), f"routes[{index}].src")
        destination = _path(read_field(route, "dest", dict), f"routes[{index}].dest")
        option = route.get("opt") or {}
        keep = option.get("keep")
        if keep is not None and not (isinstance(keep, list) and all(isinstance(name, str) for name in keep)):
            raise Permanent(f"routes[{index}].opt.keep: expected a list of file names")
        _transfer_one(source, destination, allow_link=option.get("allow_link") is True, keep=keep)
    return True


def _path(item: dict[str, Any], where: str) -> Path:
    path = Path(read_field(item, "uri", str))
    if not path.is_absolute():
        raise Permanent(f"{where}: path {str(path)!r} is relative")
    return path


def _transfer_one(source: Path, destination: Path, *, allow_link: bool, keep: list[str] | None) -> None:
    if not source.exists():
        raise Permanent(f"transfer source {source} does not exist")
    if destination.exists() and destination.is_dir() != source.is_dir():
        kind = "a directory" if destination.is_dir() else "a file"
        raise Permanent(f"transfer destination {destination} is {kind}, unlike its source {source}")
    if allow_link:
        remove_path(destination)
        with file_errors(f"link {destination} to {source}", writing=destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(source, destination)
    elif source.is_dir():
        with file_errors(f"create {destination.parent}", writing=destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
        copy_tree_atomically(source, destination, keep=None if keep is None else set(keep).__contains__)
    else:
        copy_file_atomically(source, destination)

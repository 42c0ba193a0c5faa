"""Deal pieces this host already has: `[worker] local_pieces_dirs`, read before asking the manager's piece store.

As the reference looks them up: a file named by the piece CID, or the CID with `.car`, in each directory in turn.
Whatever the source, the steps check the data's CommP against the piece CID before sealing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path


def local_piece_path(dirs: Sequence[Path], piece_cid: str) -> Path | None:
    """The first file holding `piece_cid` in `dirs`, or None. A CID is letters and digits only, so a name from
    the manager can never lead outside the directories."""
    if not piece_cid.isascii() or not piece_cid.isalnum():
        return None
    for directory in dirs:
        for name in (piece_cid, f"{piece_cid}.car"):
            path = directory / name
            if path.is_file():
                return path
    return None


async def read_local_piece(dirs: Sequence[Path], piece_cid: str) -> bytes | None:
    """The payload of `piece_cid` from the local piece directories, or None when no directory has it."""
    path = local_piece_path(dirs, piece_cid)
    return None if path is None else await asyncio.to_thread(path.read_bytes)

"""File moves that survive a crash: copies go through a temporary name and replace the target in one rename.

Steps and the built-in processors write sector files with these, so a kill at any instant leaves either the old
file or the new one under the real name, never half of one, and running the same work again starts cleanly.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def remove_path(path: Path) -> None:
    """Remove a file, a symlink or a directory tree; nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def copy_file_atomically(source: Path, destination: Path) -> None:
    """Copy through a temporary name so a crash never leaves a half-written file under the real name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".tmp")
    shutil.copyfile(source, temporary)
    temporary.replace(destination)


def copy_tree_atomically(source: Path, destination: Path) -> None:
    """Replace `destination` with a copy of directory `source`; a rerun after a crash starts over cleanly."""
    temporary = destination.with_name(destination.name + ".tmp")
    remove_path(temporary)
    shutil.copytree(source, temporary)
    remove_path(destination)
    temporary.replace(destination)

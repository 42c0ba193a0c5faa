"""Where a child runs: its CPUs (`cgroup.cpuset`) and its preferred NUMA node (`numa_preferred`).

The parent passes them in the reference's environment variables (`VC_CG_NAME`, `VC_CG_CPUSET`,
`VENUS_WORKER_NUMA_PREFERRED`, from `vc-processors/src/sys/{cgroup,numa}.rs`), so a reference child placed by
our worker, and our child placed by the reference, both work. The child places itself before its handshake:

- CPU affinity (sched_setaffinity) to the cpuset, always: it holds for every thread the child starts later.
  A cpuset the kernel refuses stops the child before its handshake, so the parent reports it.
- A cpuset cgroup named `VC_CG_NAME` under the cpuset hierarchy (cgroup v2 or v1), where the host lets this
  process create one (usually root, outside a container); otherwise a line on stderr says affinity alone holds.
- The preferred NUMA node, through the `set_mempolicy` system call (MPOL_PREFERRED), as libnuma's
  `numa_set_preferred` does; a node that does not exist is reported and ignored, as the reference does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Mapping
from pathlib import Path

from sealer_fsm.config import parse_cpuset

ENV_CGROUP_NAME = "VC_CG_NAME"
ENV_CGROUP_CPUSET = "VC_CG_CPUSET"
ENV_NUMA_PREFERRED = "VENUS_WORKER_NUMA_PREFERRED"

CGROUP_ROOT = Path("/sys/fs/cgroup")
_MPOL_PREFERRED = 1
_MASK_BITS = 64  # one unsigned long of node bits; the kernel wants one more than the bits it reads (libnuma too)
# set_mempolicy's number where the generic table does not apply (asm-generic/unistd.h has 237).
_SET_MEMPOLICY = {"x86_64": 238, "aarch64": 237, "riscv64": 237, "ppc64le": 261, "s390x": 270}


class PlacementError(Exception):
    """The child cannot run where it was told to; it exits before its handshake with this line."""


def cgroup_dir(name: str, root: Path = CGROUP_ROOT) -> Path | None:
    """Where the cpuset cgroup `name` lives on this host (v2 unified or v1 cpuset hierarchy), or None."""
    if (root / "cgroup.controllers").is_file():
        return root / name
    if (root / "cpuset" / "cpuset.cpus").is_file():
        return root / "cpuset" / name
    return None


def place_self(environ: Mapping[str, str], root: Path = CGROUP_ROOT) -> list[str]:
    """Apply the placement the parent asked for to this process; returns what it did, one line each."""
    notes = []
    cpuset = environ.get(ENV_CGROUP_CPUSET)
    if cpuset:
        try:
            cpus = parse_cpuset(cpuset)
            os.sched_setaffinity(0, cpus)
        except (ValueError, OSError) as error:
            raise PlacementError(f"cannot pin to CPUs {cpuset!r}: {error}") from error
        notes.append(f"pinned to CPUs {cpuset}")
        name = environ.get(ENV_CGROUP_NAME)
        if name:
            notes.append(_join_cgroup(name, cpuset, root))
    preferred = environ.get(ENV_NUMA_PREFERRED)
    if preferred:
        notes.append(_prefer_node(preferred))
    return notes


def _join_cgroup(name: str, cpuset: str, root: Path) -> str:
    directory = cgroup_dir(name, root)
    if directory is None or ".." in Path(name).parts:
        return f"no cpuset cgroup {name!r} (no cpuset controller here); CPU affinity alone holds"
    try:
        if (root / "cgroup.controllers").is_file():  # cgroup v2: enable the controller down to the leaf
            _enable_cpuset_v2(root, directory)
        else:
            _prepare_cpuset_v1(root / "cpuset", directory)
        (directory / "cpuset.cpus").write_text(cpuset)
        (directory / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as error:
        return f"no cpuset cgroup {name!r} ({error.strerror or error}); CPU affinity alone holds"
    return f"joined cpuset cgroup {directory}"


def _enable_cpuset_v2(root: Path, leaf: Path) -> None:
    level = root
    for part in leaf.relative_to(root).parts:
        (level / "cgroup.subtree_control").write_text("+cpuset")
        level = level / part
        level.mkdir(exist_ok=True)


def _prepare_cpuset_v1(hierarchy: Path, leaf: Path) -> None:
    """v1 needs cpus and mems set at every level before a task may join; inherit them from the parent."""
    level = hierarchy
    for part in leaf.relative_to(hierarchy).parts:
        parent, level = level, level / part
        level.mkdir(exist_ok=True)
        for key in ("cpuset.mems", "cpuset.cpus"):
            if not (level / key).read_text().strip():
                (level / key).write_text((parent / key).read_text().strip())


def remove_cgroup(name: str, root: Path = CGROUP_ROOT) -> None:
    """Remove the leaf cgroup a child made, once it has exited (a cgroup with a process cannot go)."""
    directory = cgroup_dir(name, root)
    if directory is not None and directory.is_dir():
        with contextlib.suppress(OSError):
            directory.rmdir()


def _prefer_node(text: str) -> str:
    try:
        node = int(text)
    except ValueError:
        return f"invalid NUMA node {text!r}; ignored"
    if node < 0 or not Path(f"/sys/devices/system/node/node{node}").is_dir():
        return f"NUMA node {node} does not exist here; ignored"
    number = _SET_MEMPOLICY.get(platform.machine())
    if number is None:
        return f"cannot prefer NUMA node {node} on {platform.machine()}; ignored"
    mask = ctypes.c_ulong(1 << node) if node < _MASK_BITS else None
    if mask is None:
        return f"NUMA node {node} is beyond the nodes this worker can name; ignored"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, _MPOL_PREFERRED, ctypes.byref(mask), ctypes.c_ulong(_MASK_BITS + 1)) != 0:
        return f"cannot prefer NUMA node {node}: {os.strerror(ctypes.get_errno())}; ignored"
    return f"prefers NUMA node {node}"

"""How a child is started: its command line and environment, as the reference builds them (`external/sub.rs`).

- `bin` defaults to this worker's own program, `args` to `["processor", "<stage>"]` (whatever the `bin`, so
  `bin = "/usr/local/bin/damocles-worker"` alone runs the reference's `processor <stage>`).
- The environment starts empty; the worker's own is copied in with `inherit_envs`, then what every child needs
  of the worker's settings (FIL_PROOFS_PARENT_CACHE: children share the worker's parent caches), the placement
  variables (`VENUS_WORKER_NUMA_PREFERRED`, `VC_CG_NAME = <group_name>/sub-<stage>-<worker pid>-<index>`,
  `VC_CG_CPUSET`), then `envs`, which win over all of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from sealer_fsm.config import ExternalProcessor
from sealer_fsm.processors._placement import ENV_CGROUP_CPUSET, ENV_CGROUP_NAME, ENV_NUMA_PREFERRED


def own_program() -> list[str]:
    """This worker's own program, as a child's `bin`: the running interpreter with the sealer_fsm package."""
    return [sys.executable, "-m", "sealer_fsm"]


def command(spec: ExternalProcessor) -> list[str]:
    program = own_program() if spec.bin is None else [spec.bin]
    args = ["processor", spec.stage] if spec.args is None else list(spec.args)
    return program + args


def cgroup_name(spec: ExternalProcessor, worker_pid: int | None = None) -> str:
    pid = os.getpid() if worker_pid is None else worker_pid
    return f"{spec.cgroup.group_name}/sub-{spec.stage}-{pid}-{spec.index}"


def environment(
    spec: ExternalProcessor, worker: Mapping[str, str] | None = None, parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The child's environment: `parent` (default: this process's) with `inherit_envs`, the worker's settings
    every child needs, the placement variables, then the entry's `envs`."""
    env = dict(os.environ if parent is None else parent) if spec.inherit_envs else {}
    env.update(worker or {})
    if spec.numa_preferred is not None:
        env[ENV_NUMA_PREFERRED] = str(spec.numa_preferred)
    if spec.cgroup.cpuset is not None:
        env[ENV_CGROUP_NAME] = cgroup_name(spec)
        env[ENV_CGROUP_CPUSET] = spec.cgroup.cpuset
    env.update(spec.envs)
    return env

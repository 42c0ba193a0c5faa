"""Machine files: parsed and validated once into typed, frozen dataclasses."""

from sealer_fsm.config._cluster import DEFAULT_DEVNET_LISTEN, DevnetServerConfig, RpcClientConfig
from sealer_fsm.config._machine import (
    PROOF_STAGES,
    AttachedStore,
    DevnetConfig,
    MachineConfig,
    MetricsConfig,
    ProofsConfig,
    RpcServerConfig,
    SealingConfig,
    SectorManagerConfig,
    ThreadConfig,
    WorkerSection,
    default_home,
    load_machine_file,
)
from sealer_fsm.config._processors import (
    STAGES,
    CgroupConfig,
    ExternalProcessor,
    ProcessorsConfig,
    parse_cpuset,
)
from sealer_fsm.config._schema import ConfigError

__all__ = [
    "DEFAULT_DEVNET_LISTEN",
    "PROOF_STAGES",
    "STAGES",
    "AttachedStore",
    "CgroupConfig",
    "ConfigError",
    "DevnetConfig",
    "DevnetServerConfig",
    "ExternalProcessor",
    "MachineConfig",
    "MetricsConfig",
    "ProcessorsConfig",
    "ProofsConfig",
    "RpcClientConfig",
    "RpcServerConfig",
    "SealingConfig",
    "SectorManagerConfig",
    "ThreadConfig",
    "WorkerSection",
    "default_home",
    "load_machine_file",
    "parse_cpuset",
]

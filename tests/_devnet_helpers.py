"""Helpers shared by the devnet tests: a movable clock, a fake step context, devnet machine files."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from sealer_fsm.config import DevnetConfig, SealingConfig
from sealer_fsm.proofs import CancelToken


class MovableClock:
    """Real time plus a skew a test can add to: "the chain moved on" without sleeping."""

    def __init__(self) -> None:
        self.skew = 0.0

    def now(self) -> float:
        return time.time() + self.skew

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.at = start

    def now(self) -> float:
        return self.at


class FakeContext:
    """The parts of StepContext the built-in steps use, without a worker around them."""

    def __init__(self, data: dict[str, Any], services: dict[str, Any], location: Path, **sealing: Any) -> None:
        self.data = dict(data)
        self.services = services
        self.location = location
        self.sealing = SealingConfig(**{"rpc_polling_interval": 0.0, **sealing})
        self.log = logging.getLogger("test.step")
        self.thread_index = 0
        self.slept: list[float] = []
        self.cancel_token = CancelToken()

    @property
    def manager(self) -> Any:
        return self.services["manager"]

    @property
    def stores(self) -> dict[str, Path]:
        return self.services.get("stores", {})

    @property
    def sector(self) -> str | None:
        return self.data.get("sector_id")

    def require(self, key: str) -> Any:
        from sealer_fsm.runtime import AbortTask

        if key not in self.data:
            raise AbortTask(f"task data {key!r} is missing")
        return self.data[key]

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)

    async def run_blocking(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)


def devnet_machine(
    tmp_path: Path, plans: list[str], devnet: dict[str, Any] | None = None, sealing: str = "", extra: str = ""
) -> Path:
    """A machine file for the devnet with tiny intervals; `devnet` overrides [sector_manager.devnet] keys and
    `extra` is appended (more sections, e.g. `[proofs]`)."""
    settings = {
        "sector_size": '"2KiB"',
        "block_time": '"10ms"',
        "precommit_epochs": "2",
        "seed_epochs": "2",
        "proof_epochs": "2",
        "seed": "3",
    }
    settings.update({key: str(value) for key, value in (devnet or {}).items()})
    lines = [
        "[worker]",
        'name = "test"',
        'drain_timeout = "2s"',
        "[sealing]",
        "max_retries = 8",
        'seal_interval = "0s"',
        'recover_interval = "10ms"',
        'rpc_polling_interval = "10ms"',
        sealing,
    ]
    for index, plan in enumerate(plans):
        lines += ["[[sealing_thread]]", f'location = "t{index}"', f'plan = "{plan}"']
    lines += [
        "[[attached]]",
        'name = "a"',
        'location = "store-a"',
        "[[attached]]",
        'name = "b"',
        'location = "store-b"',
    ]
    lines += ["[sector_manager]", 'kind = "devnet"', "[sector_manager.devnet]"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    path = tmp_path / "machine.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def devnet_config(**overrides: Any) -> DevnetConfig:
    return DevnetConfig(**{"block_time": 1.0, **overrides})

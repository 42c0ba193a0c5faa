"""Helpers shared by the devnet tests: a movable clock, a fake step context, devnet machine files."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from sealer_fsm.config import DevnetConfig, SealingConfig
from sealer_fsm.processors import Processors
from sealer_fsm.proofs import CancelToken
from sealer_fsm.runtime import StageRunner
from sealer_fsm.steps.stages import builtin_stage


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.at = start

    def now(self) -> float:
        return self.at


class ChainClock(ManualClock):
    """The clock of a whole worker and its devnet in a test: the chain moves one block each time a thread waits
    on it (a poll, a seed wait), and when the test says so, never with wall time. A loaded machine therefore
    cannot expire a ticket or let a message land early: the story runs the same at any speed.

    Pass it as both `clock` and `manager_calls` to `build_worker`; elapsed times still use the real monotonic
    clock (they are only shown, never decide anything)."""

    WAITS_ON_CHAIN = frozenset({"poll_precommit", "poll_proof", "wait_seed"})

    def __init__(self, block_time: float, start: float = 1000.0) -> None:
        super().__init__(start)
        self.block_time = block_time
        self.blocks = 0

    def monotonic(self) -> float:
        return time.monotonic()

    def observe(self, method: str, ok: bool, seconds: float | None = None) -> None:
        if method in self.WAITS_ON_CHAIN:
            self.advance(1)

    def advance(self, blocks: int) -> None:
        """Move the chain on by whole blocks (counted, so epochs never suffer float rounding)."""
        self.blocks += blocks
        self.at = self.start + (self.blocks + 0.5) * self.block_time  # mid-block: no rounding at the edges


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
    def readonly_stores(self) -> dict[str, Path]:
        return self.services.get("readonly_stores", {})

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

    @property
    def processors(self) -> StageRunner:
        """The stages in-process (or the services' `processors`), as a worker without [processors] runs them."""
        processors = self.services.get("processors") or Processors(builtin=builtin_stage)
        return StageRunner(processors, lambda *report: None, self.cancel_token)


def devnet_machine(
    tmp_path: Path,
    plans: list[str],
    devnet: dict[str, Any] | None = None,
    sealing: str = "",
    extra: str = "",
    readonly: tuple[str, ...] = (),
) -> Path:
    """A machine file for the devnet with tiny intervals; `devnet` overrides [sector_manager.devnet] keys,
    `extra` is appended (more sections, e.g. `[proofs]`) and the stores named in `readonly` ("a", "b") are."""
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
        "" if "max_retries" in sealing else "max_retries = 8",
        'seal_interval = "0s"',
        'recover_interval = "10ms"',
        'rpc_polling_interval = "10ms"',
        sealing,
    ]
    for index, plan in enumerate(plans):
        lines += ["[[sealing_thread]]", f'location = "t{index}"', f'plan = "{plan}"']
    for store in ("a", "b"):
        lines += ["[[attached]]", f'name = "{store}"', f'location = "store-{store}"']
        lines += ["readonly = true"] if store in readonly else []
    lines += ["[sector_manager]", 'kind = "devnet"', "[sector_manager.devnet]"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    path = tmp_path / "machine.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def devnet_config(**overrides: Any) -> DevnetConfig:
    return DevnetConfig(**{"block_time": 1.0, **overrides})

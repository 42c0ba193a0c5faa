"""The TUI says what a Waiting thread waits for: two threads reach PC1 with `pc1 = 1`, one runs it, the other
shows `Waiting` with `pc1 slot (1/1 busy)` in its row and in the detail pane."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tui_harness import Script, _shipped_step_names, app_session, run, write_machine_file

from sealer_fsm.config import ProcessorsConfig, load_machine_file
from sealer_fsm.processors import Processors
from sealer_fsm.proofs import CancelToken
from sealer_fsm.registry import StepRegistry
from sealer_fsm.runtime import Outcome, StepContext, Worker
from sealer_fsm.tui import LocalController


def test_a_waiting_thread_shows_what_it_waits_for(tmp_path: Path) -> None:
    release = threading.Event()

    def held_pc1(task: Any, cancel: CancelToken) -> dict[str, Any]:
        while not release.wait(0.01):
            cancel.check("pc1")
        return {}

    script = Script(step_seconds=0.01)

    async def pc1_step(ctx: StepContext) -> Outcome | None:
        await ctx.processors.run("pc1", {})
        return await script.step(ctx)

    async def scenario() -> None:
        config = load_machine_file(write_machine_file(tmp_path, ["sealer", "sealer"]), home=tmp_path / "home")
        registry = StepRegistry({name: pc1_step if name == "pc1" else script.step for name in _shipped_step_names()})
        worker = Worker(config, registry)
        worker.processors = Processors(ProcessorsConfig(concurrent={"pc1": 1}), builtin=lambda stage: held_pc1)
        runner = asyncio.create_task(worker.run())
        try:
            async with app_session(LocalController(worker), worker) as s:
                waiting = {0: "", 1: ""}

                def one_waits() -> bool:
                    for index in waiting:
                        waiting[index] = s.cells(index)["stage"]
                    return "PC1: pc1 slot (1/1 busy)" in waiting.values()

                await s.wait_until(one_waits, "a thread shows it waits for the pc1 slot")
                index = next(index for index, stage in waiting.items() if stage == "PC1: pc1 slot (1/1 busy)")
                assert s.cells(index)["thread"] == "Waiting"
                await s.select(index)
                await s.wait_until(
                    lambda: "Waiting for pc1 slot (1/1 busy)" in str(s.screen.query_one("#detail-title").render()),
                    "the detail pane says what the thread waits for",
                )
                release.set()
        finally:
            release.set()
            worker.drain()
            await asyncio.wait_for(runner, timeout=30)

    run(scenario)

"""Every key of every screen, at the sizes operators use (80x24 and 200x50): nothing crashes, every dialog opens
and closes, and the table always shows each thread's index, sector, state, thread state and last error."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from textual.screen import Screen
from tui_harness import Script, Session, local_session, run

from sealer_fsm.tui._confirm_screen import ConfirmScreen
from sealer_fsm.tui._help_screen import HelpScreen
from sealer_fsm.tui._resume_picker import ResumePicker
from sealer_fsm.tui._threads_screen import ThreadsScreen

SIZES = [(80, 24), (200, 50)]
LONG_ERROR = "the ticket expired at epoch 1234 while PC1 waited for a free core; " * 3


def declared_keys(screen: type[Screen[object]]) -> set[str]:
    keys = set()
    for binding in screen.BINDINGS:
        keys.update(binding.key.split(","))  # type: ignore[union-attr]
    return keys


class KeyWalk:
    """Presses keys as an operator would, remembering which key was pressed on which screen, and checking after
    each one that the app still runs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pressed: dict[type[Screen[object]], set[str]] = defaultdict(set)

    async def press(self, key: str, then: type[Screen[object]] | None = None) -> None:
        self.pressed[type(self.session.app.screen)].add(key)
        await self.session.pilot.press(key)
        await self.session.pilot.pause()
        assert self.session.app.is_running, f"the app stopped after {key!r}"
        if then is not None:
            await self.session.wait_until(lambda: isinstance(self.session.app.screen, then), f"{then.__name__} shows")


def assert_every_thread_is_readable(session: Session) -> None:
    """Each thread's row shows its index, sector, state, thread state and the start of its last error, as of the
    screen's last refresh."""
    lines = session.screen_text()
    header = next(at for at, line in enumerate(lines) if re.match(r"^\s*#\s+(plan\s+)?sector\s+state\s", line))
    table = lines[header + 1 : next(at for at, line in enumerate(lines) if line.startswith("──"))]
    for row in session.screen.rows:
        (line,) = [line for line in table if re.match(rf"^\s*●?{row.index}\s", line)]
        for value in (row.sector or "-", row.state or "-", row.thread_state, (row.last_error or "-")[:12]):
            assert value in line, f"{value!r} not in {line!r}"


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_key_of_every_screen_at_both_sizes(tmp_path: Path, size: tuple[int, int]) -> None:
    # Slow steps and refreshes leave the process idle between keys, which is what Pilot waits for after each one.
    script = Script(fail_at={1: "TicketAssigned", 2: "TicketAssigned"}, step_seconds=0.3, failure=LONG_ERROR)

    async def scenario() -> None:
        async with local_session(tmp_path, ["sealer", "sealer", "sealer"], script, size, refresh=0.25) as s:
            walk = KeyWalk(s)
            await s.wait_until(lambda: s.worker.thread(1).paused and s.worker.thread(2).paused, "two threads pause")
            await s.select_paused(1)
            await s.pilot.pause(0.2)
            assert_every_thread_is_readable(s)

            # Help: opened with ?, closed with each of its keys.
            for close in sorted(declared_keys(HelpScreen)):
                await walk.press("question_mark", then=HelpScreen)
                assert any("Pause now" in line for line in s.screen_text())
                await walk.press(close, then=ThreadsScreen)

            # Resume picker and the confirmation after it, each key of both.
            await walk.press("r", then=ResumePicker)
            await walk.press("escape", then=ThreadsScreen)
            await walk.press("r", then=ResumePicker)
            for key in ("tab", "tab", "space", "space"):  # to the reason, to the force box, tick, untick
                await walk.press(key)
            await walk.press("enter", then=ConfirmScreen)  # Enter on the force box chooses
            await walk.press("n", then=ThreadsScreen)
            await walk.press("r", then=ResumePicker)
            await walk.press("enter", then=ConfirmScreen)
            await walk.press("escape", then=ThreadsScreen)
            for confirm in ("y", "enter"):
                await walk.press("r", then=ResumePicker)
                await walk.press("enter", then=ConfirmScreen)
                await walk.press(confirm, then=ThreadsScreen)
                await s.wait_until(lambda: not s.worker.thread(1).paused, "thread 1 resumes")
                await s.select_paused(1)  # its next sector fails the same way

            # Abort: its confirmation asks for a reason; escape cancels, enter confirms.
            await s.select_paused(2)
            await walk.press("a", then=ConfirmScreen)
            await walk.press("escape", then=ThreadsScreen)
            await walk.press("a", then=ConfirmScreen)
            await walk.press("enter", then=ThreadsScreen)
            await s.wait_until(lambda: "aborted" in s.status(), "the abort is reported")

            # The rest of the main screen's keys: pause, pause now, filter, mark, clear.
            await s.select(0)
            await walk.press("p")
            await walk.press("P")
            await walk.press("slash")
            await walk.press("escape")
            await walk.press("space")
            await walk.press("escape")
            assert_every_thread_is_readable(s)

            walk.pressed[ThreadsScreen].add("q")
            await s.pilot.press("q")
            await s.pilot.pause()
            assert not s.app.is_running
            for screen in (ThreadsScreen, HelpScreen, ResumePicker, ConfirmScreen):
                missing = declared_keys(screen) - walk.pressed[screen]
                assert not missing, f"keys of {screen.__name__} never pressed: {missing}"

    run(scenario)

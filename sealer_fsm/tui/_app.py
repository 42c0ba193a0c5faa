"""The Textual application: one controller, one main screen, and the refresh interval (injectable for tests)."""

from __future__ import annotations

import gc

from textual.app import App
from textual.screen import Screen

from sealer_fsm.tui._controller import Controller
from sealer_fsm.tui._threads_screen import ThreadsScreen

# A refresh of a thousand-row table allocates tens of thousands of short-lived Rich objects. At CPython's default
# first-generation threshold (700 allocations) collections run many times a frame and, now and then, walk the
# older generations too, which doubled the slowest frames (bench/tui.py: p95 166 ms → 81 ms with this setting).
_GC_THRESHOLDS = (50_000, 20, 100)


class SealerFsmApp(App[None]):
    TITLE = "sealer-fsm"

    def __init__(self, controller: Controller, *, refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.controller = controller
        self.refresh_interval = refresh_interval
        self._previous_gc_thresholds = gc.get_threshold()

    def on_mount(self) -> None:
        gc.set_threshold(*_GC_THRESHOLDS)

    def on_unmount(self) -> None:
        gc.set_threshold(*self._previous_gc_thresholds)

    def get_default_screen(self) -> Screen[None]:
        return ThreadsScreen(self.controller, self.refresh_interval)

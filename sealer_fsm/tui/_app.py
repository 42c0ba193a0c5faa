"""The Textual application: one controller, one main screen, and the refresh interval (injectable for tests)."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from sealer_fsm.tui._controller import Controller
from sealer_fsm.tui._threads_screen import ThreadsScreen


class SealerFsmApp(App[None]):
    TITLE = "sealer-fsm"

    def __init__(self, controller: Controller, *, refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.controller = controller
        self.refresh_interval = refresh_interval

    def get_default_screen(self) -> Screen:
        return ThreadsScreen(self.controller, self.refresh_interval)

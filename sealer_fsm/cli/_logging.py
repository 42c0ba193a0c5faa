"""Where `sealer-fsm run` writes its log: the terminal, a file, or above the live view, never through it.

Three cases. Plain output (a pipe, a service manager): lines on stderr. The live view on a terminal: lines are
printed through the view's own console, which puts them above the table instead of tearing it. The TUI owns the
terminal: lines go to a file (`<home>/worker.log` unless `--log-file` says otherwise). `--log-file` sends the log
to a file in every case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.text import Text

from sealer_fsm.cli._common import CliError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
TUI_LOG_NAME = "worker.log"


class ConsoleLogHandler(logging.Handler):
    """Log records printed through a Rich console: while a Live view runs on it, they appear above the view."""

    def __init__(self, console: Console, level: int) -> None:
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            style = "red" if record.levelno >= logging.ERROR else "yellow" if record.levelno >= logging.WARNING else ""
            # Not soft_wrap: Rich renders the live view in the same call, and would leave its lines unwrapped.
            self.console.print(Text(self.format(record), style=style))
        except Exception:  # a log line must never stop the worker
            self.handleError(record)


def file_handler(path: Path, level: int) -> logging.Handler:
    """Appends to `path` (creating its folder); an unwritable path is one CliError line, before anything starts."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except (FileExistsError, NotADirectoryError) as error:
        raise CliError(f"cannot write the log file {path}: {path.parent} is not a folder") from error
    except OSError as error:
        raise CliError(f"cannot write the log file {path}: {error.strerror or error}") from error
    handler.setLevel(level)
    return handler


@contextmanager
def run_logging(level_name: str, *, log_file: Path | None, live_console: Console | None) -> Iterator[logging.Handler]:
    """This run's handler on the root logger, for as long as the run lasts (handlers others installed, such as a
    test's log capture, stay)."""
    level = getattr(logging, level_name)
    handler: logging.Handler
    if log_file is not None:
        handler = file_handler(log_file, level)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
    elif live_console is not None:
        handler = ConsoleLogHandler(live_console, level)
        handler.setFormatter(logging.Formatter(TERMINAL_FORMAT))
    else:
        handler = logging.StreamHandler()
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, previous_level) if previous_level else level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()

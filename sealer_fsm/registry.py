"""The step registry: maps the step names used in plans to the functions that run them.

A name is either registered (the built-in steps, or steps a test or an embedding program adds) or an importable
`module:function`, so an operator can write a step without touching this package.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

StepFunction = Callable[..., Any]
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def simulated_step(function: StepFunction) -> StepFunction:
    """Mark a step whose work is simulated (no real proof): every surface that shows the step says so."""
    function.simulated = True  # type: ignore[attr-defined]
    return function


class UnknownStep(LookupError):
    """A step name that resolves to nothing; the message says why in one sentence."""


class StepRegistry:
    def __init__(self, steps: dict[str, StepFunction] | None = None) -> None:
        self._steps: dict[str, StepFunction] = dict(steps or {})

    def register(self, name: str) -> Callable[[StepFunction], StepFunction]:
        """Decorator form of `add`."""

        def decorate(function: StepFunction) -> StepFunction:
            self.add(name, function)
            return function

        return decorate

    def add(self, name: str, function: StepFunction) -> None:
        if name in self._steps and self._steps[name] is not function:
            raise ValueError(f"step {name!r} is already registered")
        self._steps[name] = function

    def names(self) -> list[str]:
        """The registered step names, in registration order (`module:function` steps are not listed)."""
        return list(self._steps)

    def is_simulated(self, name: str) -> bool:
        """Whether the step behind `name` is marked `simulated` (False for a name that does not resolve)."""
        try:
            return bool(getattr(self.resolve(name), "simulated", False))
        except UnknownStep:
            return False

    def resolve(self, name: str) -> StepFunction:
        """The function for `name`; raises UnknownStep with a sentence a plan author can act on."""
        if name in self._steps:
            return self._steps[name]
        if ":" not in name:
            raise UnknownStep(f"unknown step {name!r} (not a built-in step, and not a 'module:function' path)")
        if not _IMPORT_PATH.match(name):
            raise UnknownStep(f"step {name!r} is not a valid 'module:function' path")
        module_name, function_name = name.split(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # any import-time failure of operator code is a plan fault, not a crash
            raise UnknownStep(f"step {name!r}: cannot import module {module_name!r} ({error})") from error
        function: StepFunction | None = getattr(module, function_name, None)
        if not callable(function):
            raise UnknownStep(f"step {name!r}: module {module_name!r} has no function {function_name!r}")
        return function

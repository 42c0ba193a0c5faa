"""Loading and validating plan files.

Validation collects every fault in a file rather than stopping at the first, so an operator editing a plan sees
all of them in one `plan check`. Each fault carries the file and the line of the YAML node at fault; the YAML
is composed into nodes (not plain values) precisely to keep those line numbers.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

import yaml

from sealer_fsm.plans._model import (
    ABORT_STATE,
    RESERVED_EVENTS,
    STATE_ALIASES,
    Plan,
    RetryPolicy,
    StateSpec,
)
from sealer_fsm.registry import StepRegistry, UnknownStep
from sealer_fsm.units import parse_duration

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TOP_KEYS = {"plan", "initial", "states", "on_abort", "doc"}
_STATE_KEYS = {"doc", "stage", "step", "on", "final", "retry", "requires"}
_RETRY_KEYS = {"max", "interval"}
RESERVED_STATES = frozenset({ABORT_STATE, *STATE_ALIASES})
# Names that would shadow attributes `transitions` puts on the task model.
_MODEL_ATTRIBUTES = frozenset({"state", "trigger", "machine", "model"})
MAX_RETRIES_LIMIT = 1000
MAX_RETRY_INTERVAL = 86400.0
# A plan nests four levels deep (states → state → on → event); anything far deeper is not a plan, and PyYAML's
# recursive composer would exhaust the interpreter's stack on it (RecursionError) before we could say so.
MAX_NESTING = 32
_BOOL_TAG = "tag:yaml.org,2002:bool"
_Entry = tuple[yaml.Node, yaml.Node]  # (key node, value node) of a mapping entry


@dataclass(frozen=True)
class PlanFault:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        """`file:line: sentence`; a fault about the file as a whole (line 0: missing, unreadable) has no line."""
        if self.line <= 0:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"


class PlanError(Exception):
    """A plan that did not validate; `faults` lists every problem found."""

    def __init__(self, faults: list[PlanFault]) -> None:
        super().__init__("\n".join(str(fault) for fault in faults))
        self.faults = faults


def _is_yaml11_on(node: yaml.ScalarNode) -> bool:
    """The key `on` after a YAML 1.1 round trip: PyYAML reads a plain `on` as the boolean true and writes it back
    as `true`, so a plan saved by a program that edits YAML comes back with `true:` where its events were."""
    return node.tag == _BOOL_TAG and yaml.safe_load(node.value) is True


def _nesting_fault(text: str, source: str) -> PlanFault | None:
    """A fault at the first node nested deeper than MAX_NESTING, read from the event stream (which, unlike the
    composer, does not recurse), stopping there; None when the text is shallow enough or not YAML at all (the
    composer then reports the syntax error)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 1
                    message = f"nested more than {MAX_NESTING} levels deep; a plan needs 4 (states → state → on)"
                    return PlanFault(source, line, message)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


class _Checker:
    """Walks the composed YAML of one file, building the Plan and collecting faults."""

    def __init__(self, source: str, registry: StepRegistry | None) -> None:
        self.source = source
        self.registry = registry
        self.faults: list[PlanFault] = []
        # (state, event, target, node) of every event, checked once all states are known.
        self._targets: list[tuple[str, str, str, yaml.Node]] = []

    def fault(self, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.faults.append(PlanFault(self.source, line, message))

    def mapping(self, node: yaml.Node, what: str, allowed: set[str] | None = None) -> dict[str, _Entry]:
        """{key: (key_node, value_node)} of a YAML mapping, reporting duplicates and unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            self.fault(node, f"{what} must be a mapping")
            return {}
        entries: dict[str, _Entry] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and allowed is not None and "on" in allowed and _is_yaml11_on(key_node):
                key = "on"
            if key is None:
                self.fault(key_node, f"{what} has a key that is not a plain name")
                continue
            if key in entries:
                first_line = entries[key][0].start_mark.line + 1
                self.fault(key_node, f"duplicate key {key!r} in {what} (first defined on line {first_line})")
                continue
            if allowed is not None and key not in allowed:
                self.fault(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")
                continue
            entries[key] = (key_node, value_node)
        return entries

    def scalar(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.fault(node, f"{what} must be a single value")
            return None
        return str(node.value)

    def name(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is not None and not _NAME.match(value):
            self.fault(node, f"{what} {value!r} must start with a letter and use only letters, digits and _")
            return None
        if value in _MODEL_ATTRIBUTES:
            self.fault(node, f"{what} {value!r} is a reserved name")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            self.fault(node, f"{what} must be true or false")
            return False
        return yaml.safe_load(node.value) is True

    def step(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is not None and self.registry is not None:
            try:
                self.registry.resolve(value)
            except UnknownStep as error:
                self.fault(node, f"{what}: {error}")
        return value

    def retry(self, node: yaml.Node, state: str) -> RetryPolicy | None:
        entries = self.mapping(node, f"retry of state {state!r}", _RETRY_KEYS)
        max_retries = interval = None
        if "max" in entries:
            value_node = entries["max"][1]
            raw = yaml.safe_load(value_node.value) if isinstance(value_node, yaml.ScalarNode) else None
            if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_RETRIES_LIMIT:
                self.fault(
                    value_node, f"retry max of state {state!r} must be a whole number from 0 to {MAX_RETRIES_LIMIT}"
                )
            else:
                max_retries = raw
        if "interval" in entries:
            value_node = entries["interval"][1]
            text = self.scalar(value_node, f"retry interval of state {state!r}")
            if text is not None:
                try:
                    interval = parse_duration(yaml.safe_load(text) if text.isdigit() else text)
                except ValueError as error:
                    self.fault(value_node, f"retry interval of state {state!r}: {error}")
                else:
                    if interval > MAX_RETRY_INTERVAL:
                        self.fault(value_node, f"retry interval of state {state!r} must be at most 1 day")
                        interval = None
        return RetryPolicy(max_retries, interval)

    def requires(self, node: yaml.Node, state: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not all(isinstance(item, yaml.ScalarNode) for item in node.value):
            self.fault(node, f"requires of state {state!r} must be a list of task data keys")
            return ()
        return tuple(item.value for item in node.value)

    def state(self, key_node: yaml.Node, node: yaml.Node) -> StateSpec | None:
        name = self.name(key_node, "state name")
        if name is None:
            return None
        if name in RESERVED_STATES:
            self.fault(key_node, f"state {name!r} is reserved: every plan has 'Abort' without declaring it")
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            self.fault(node, f"state {name!r} is empty: give it a step and events, or final: true")
            return None
        entries = self.mapping(node, f"state {name!r}", _STATE_KEYS)
        final = self.boolean(entries["final"][1], f"final of state {name!r}") if "final" in entries else False
        spec = StateSpec(
            name=name,
            doc=(self.scalar(entries["doc"][1], f"doc of state {name!r}") or "") if "doc" in entries else "",
            stage=(self.scalar(entries["stage"][1], f"stage of state {name!r}") or "-") if "stage" in entries else "-",
            step=self.step(entries["step"][1], f"step of state {name!r}") if "step" in entries else None,
            final=final,
            on=self.events(entries["on"][1], name) if "on" in entries else {},
            retry=self.retry(entries["retry"][1], name) if "retry" in entries else None,
            requires=self.requires(entries["requires"][1], name) if "requires" in entries else (),
            line=key_node.start_mark.line + 1,
        )
        if final and spec.on:
            self.fault(entries["on"][0], f"final state {name!r} cannot have events")
        if not final and not spec.on and "on" not in entries:
            self.fault(key_node, f"state {name!r} is not final and has no event: give it 'on' or 'final: true'")
        if not final and spec.step is None and "step" not in entries:
            self.fault(key_node, f"state {name!r} has no step to run")
        return spec

    def events(self, node: yaml.Node, state: str) -> dict[str, str]:
        events: dict[str, str] = {}
        entries = self.mapping(node, f"events of state {state!r}")
        if not entries and isinstance(node, yaml.MappingNode):
            self.fault(node, f"state {state!r} has an empty 'on': give it at least one event")
        for event, (key_node, target_node) in entries.items():
            if self.name(key_node, "event name") is None:
                continue
            if event in RESERVED_EVENTS:
                self.fault(key_node, f"event {event!r} in state {state!r} is reserved by the runtime")
                continue
            target = self.scalar(target_node, f"target of event {event!r}")
            if target is not None:
                events[event] = STATE_ALIASES.get(target, target)
                self._targets.append((state, event, events[event], target_node))
        return events

    def check(self, text: str) -> Plan | None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(error, "problem", None) or str(error)
            self.faults.append(PlanFault(self.source, line, f"YAML syntax error: {problem}"))
            return None
        if root is None:
            self.faults.append(PlanFault(self.source, 1, "the file is empty"))
            return None
        top = self.mapping(root, "the plan file", _TOP_KEYS)
        for required in ("plan", "initial", "states"):
            if required not in top and isinstance(root, yaml.MappingNode):
                self.fault(root, f"missing required key {required!r}")
        plan_name = self.name(top["plan"][1], "plan name") if "plan" in top else None
        on_abort = self.step(top["on_abort"][1], "on_abort") if "on_abort" in top else None
        states: dict[str, StateSpec] = {}
        if "states" in top:
            for name, (key_node, value_node) in self.mapping(top["states"][1], "states").items():
                spec = self.state(key_node, value_node)
                if spec is not None and name not in states:
                    states[name] = spec
        for source_state, event, target, target_node in self._targets:
            if target != ABORT_STATE and target not in states:
                self.fault(target_node, f"event {event!r} of state {source_state!r} goes to unknown state {target!r}")
        initial = None
        if "initial" in top:
            initial_node = top["initial"][1]
            initial = self.scalar(initial_node, "initial")
            if initial is not None and initial not in states:
                self.fault(initial_node, f"initial state {initial!r} is not a state of this plan")
                initial = None
            elif initial is not None and states[initial].final:
                self.fault(initial_node, f"initial state {initial!r} cannot be final")
        if initial is not None:
            self._check_reachability(states, initial)
        if self.faults or plan_name is None or initial is None:
            return None
        doc = (self.scalar(top["doc"][1], "doc of the plan") or "") if "doc" in top else ""
        return Plan(name=plan_name, initial=initial, states=states, on_abort=on_abort, doc=doc)

    def _check_reachability(self, states: dict[str, StateSpec], initial: str) -> None:
        """Unreachable states and states with no way to finish. When the file already has faults, these are
        mostly their consequences (one misspelt target strands every state after it), so they are folded into
        one line under the real faults instead of burying them."""
        finals = [name for name, spec in states.items() if spec.final]
        if not finals:
            self.faults.append(PlanFault(self.source, 1, "the plan has no final state (add one with final: true)"))
        reached = _reachable(states, [initial], forward=True)
        can_finish = _reachable(states, finals, forward=False)
        consequences: dict[str, str] = {}  # state → what is wrong with it
        for name in states:
            if name not in reached:
                consequences[name] = f"state {name!r} is unreachable from {initial!r}"
            elif finals and name not in can_finish:
                consequences[name] = f"state {name!r} has no path to a final state"
        if not consequences:
            return
        if not self.faults:
            self.faults.extend(PlanFault(self.source, states[name].line, text) for name, text in consequences.items())
            return
        first = states[next(iter(consequences))].line
        names = ", ".join(consequences)
        count = "1 state is" if len(consequences) == 1 else f"{len(consequences)} states are"
        message = f"because of the faults above, {count} unreachable or cannot finish: {names}"
        self.faults.append(PlanFault(self.source, first, message))


def _reachable(states: dict[str, StateSpec], starts: list[str], *, forward: bool) -> set[str]:
    edges: dict[str, set[str]] = {name: set() for name in states}
    for spec in states.values():
        for target in spec.on.values():
            if target in edges:
                (edges[spec.name] if forward else edges[target]).add(target if forward else spec.name)
    seen, queue = set(starts), deque(starts)
    while queue:
        for neighbour in edges[queue.popleft()]:
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen


def check_plan_text(text: str, source: str, registry: StepRegistry | None) -> tuple[Plan | None, list[PlanFault]]:
    """Validate plan text; returns the plan (None when any fault was found) and every fault. Never raises: a
    worker keeps its last valid plan only if every way an edit can fail arrives here as a fault."""
    nesting = _nesting_fault(text, source)
    if nesting is not None:
        return None, [nesting]
    checker = _Checker(source, registry)
    try:
        plan = checker.check(text)
    except RecursionError:
        return None, [PlanFault(source, 0, f"nested too deeply to be a plan (more than {MAX_NESTING} levels)")]
    except Exception as error:  # a loader bug must still reach the operator as a fault, never as a crash
        return None, [PlanFault(source, 0, f"cannot be checked: {type(error).__name__}: {error}")]
    return plan, checker.faults

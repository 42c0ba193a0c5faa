"""Keys of the reference worker's machine files that this worker accepts but does not implement yet.

A damocles-worker TOML file loads here unchanged: each such key is set aside before the file is read against our
schema, with one warning naming it and saying what happens instead. A key that neither we nor the reference
know is still refused (with a "did you mean"), so a typo never passes silently as "a reference key".
"""

from __future__ import annotations

import copy
from typing import Any

from sealer_fsm.config._processors import ROUTED_STAGES

_NO_SCAN = "store directories are not scanned for sectorstore.json; list them in [[attached]]"

# (table, key) -> what this worker does instead. Table "" is the top level of the file.
REFERENCE_ONLY_KEYS: dict[tuple[str, str], str] = {
    ("", "attached_selection"): "persist stores are chosen by the sector manager (StoreReserveSpace)",
    ("", "remote_store"): "the reference's deprecated single store; use [[attached]]",
    ("worker", "scan_persist_stores"): _NO_SCAN,
    ("worker", "ScanPersistStores"): _NO_SCAN,
    ("metrics", "http_listen"): "metrics are served on the control RPC's port at /metrics",
}

# The reference's processor stages (damocles-worker config.rs `Processors`, and the stage names its limits use).
REFERENCE_STAGES = (
    "add_pieces", "tree_d", "pc1", "pc2", "synth_proof", "c1", "c2", "snap_encode", "snap_prove", "transfer",
    "unseal", "window_post", "winning_post", "sealing_daemons",
)  # fmt: skip
# Stages the reference has that this worker has none of (PoSt is the manager's side here).
_NO_SUCH_STAGE = ("synth_proof", "window_post", "winning_post", "sealing_daemons")
_LIMIT_TABLES = (("limit",), ("limitation", "concurrent"), ("limitation", "staggered"))


def _stage_note(stage: str) -> str:
    if stage in _NO_SUCH_STAGE:
        return f"this worker has no {stage} stage"
    return f"the {stage} stage runs in this worker's own process, not through processors"


def set_aside_reference_keys(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`raw` without the reference-only keys (a copy; `raw` is untouched) and one warning per key found."""
    kept = copy.deepcopy(raw)
    warnings = []
    for (table, key), instead in REFERENCE_ONLY_KEYS.items():
        section = kept if not table else kept.get(table)
        if isinstance(section, dict) and key in section:
            warnings.append(_warning(f"[{key}]" if not table else f"[{table}] {key}", section.pop(key), instead))
    processors = kept.get("processors")
    if isinstance(processors, dict):
        warnings += _set_aside_processor_keys(processors)
    return kept, warnings


def _set_aside_processor_keys(processors: dict[str, Any]) -> list[str]:
    """The parts of `[processors]` for stages that do not run through processors here (and static TreeD files)."""
    warnings = []
    if "static_tree_d" in processors:
        instead = "TreeD is built for every sector, none is reused"
        warnings.append(_warning("[processors] static_tree_d", processors.pop("static_tree_d"), instead))
    for path in _LIMIT_TABLES:
        table = _table_at(processors, path)
        for stage in [key for key in table if key in REFERENCE_STAGES and key not in ROUTED_STAGES]:
            label = f"[processors.{'.'.join(path)}] {stage}"
            warnings.append(_warning(label, table.pop(stage), f"no limit applies: {_stage_note(stage)}"))
    for stage in [key for key in processors if key in REFERENCE_STAGES and key not in ROUTED_STAGES]:
        warnings.append(_warning(f"[[processors.{stage}]]", processors.pop(stage), _stage_note(stage)))
    return warnings


def _table_at(root: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    table: Any = root
    for part in path:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    return table if isinstance(table, dict) else {}


def _warning(named: str, value: Any, instead: str) -> str:
    if isinstance(value, dict) and value:
        named += f" ({', '.join(sorted(value))})"
    return f"{named}: accepted from the reference's format but not implemented here: {instead}"


def reference_keys(table: str) -> tuple[str, ...]:
    """The reference-only keys of one table ("" for the top level): offered in "did you mean" suggestions."""
    return tuple(key for (section, key) in REFERENCE_ONLY_KEYS if section == table)

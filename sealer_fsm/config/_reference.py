"""Keys of the reference worker's machine files that this worker accepts but does not implement yet.

A damocles-worker TOML file loads here unchanged: each such key is set aside before the file is read against our
schema, with one warning naming it and saying what happens instead. A key that neither we nor the reference
know is still refused (with a "did you mean"), so a typo never passes silently as "a reference key".
"""

from __future__ import annotations

import copy
from typing import Any

_NO_SCAN = "store directories are not scanned for sectorstore.json; list them in [[attached]]"

# (table, key) -> what this worker does instead. Table "" is the top level of the file.
REFERENCE_ONLY_KEYS: dict[tuple[str, str], str] = {
    ("", "processors"): (
        "external processors, stage limits, ext_locks and static TreeD files are not implemented yet;"
        " every stage runs in this process"
    ),
    ("", "attached_selection"): "persist stores are chosen by the sector manager (StoreReserveSpace)",
    ("", "remote_store"): "the reference's deprecated single store; use [[attached]]",
    (
        "worker",
        "scan_persist_stores",
    ): "store directories are not scanned for sectorstore.json; list them in [[attached]]",
    (
        "worker",
        "ScanPersistStores",
    ): "store directories are not scanned for sectorstore.json; list them in [[attached]]",
    ("metrics", "http_listen"): "metrics are served on the control RPC's port at /metrics",
}


def set_aside_reference_keys(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`raw` without the reference-only keys (a copy; `raw` is untouched) and one warning per key found."""
    kept = copy.deepcopy(raw)
    warnings = []
    for (table, key), instead in REFERENCE_ONLY_KEYS.items():
        section = kept if not table else kept.get(table)
        if not isinstance(section, dict) or key not in section:
            continue
        value = section.pop(key)
        named = f"[{key}]" if not table else f"[{table}] {key}"
        if isinstance(value, dict) and value:
            named += f" ({', '.join(sorted(value))})"
        warnings.append(f"{named}: accepted from the reference's format but not implemented here: {instead}")
    return kept, warnings


def reference_keys(table: str) -> tuple[str, ...]:
    """The reference-only keys of one table ("" for the top level): offered in "did you mean" suggestions."""
    return tuple(key for (section, key) in REFERENCE_ONLY_KEYS if section == table)
